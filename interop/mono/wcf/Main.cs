// Mono svcutil (WCF ClientBase) proxies: log in through SoPrincipal, GetStatistics with all three input headers,
// print canonical lines. interop/run generates CustomerService.cs and SoPrincipal.cs with
// `svcutil -noconfig URL?wsdl`, moves their data contracts to the namespaces S87C / S87P and adds
// [return: MessageParameter(Name="Response")] to CustomerService.GetStatistics (Microsoft's svcutil emits it;
// Mono's does not, and WCF then reads every answer as null).
//
// What Mono svcutil cannot express, this file supplies the way Microsoft's svcutil would:
// - the soap:header parts (dropped from the generated contract): added per call with OperationContextScope;
// - AuthenticateUsernamePassword's answer has three parts in a wrapper named AuthenticateResponse (shared by the
//   four Authenticate* operations), which Mono generates as "returns SoPrincipalCarrier" and loses the ticket:
//   a message contract with that wrapper name reads all three.
// SOAP 1.1 uses BasicHttpBinding; SOAP 1.2 a CustomBinding with MessageVersion.Soap12WSAddressing10 (WCF's
// default for 1.2: it adds wsa:Action/wsa:To headers with mustUnderstand="1").
using System;
using System.Globalization;
using System.Runtime.Serialization;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.Text;

static class Ns {
    public const string S87 = "http://www.superoffice.net/ws/crm/NetServer/Services87";
}

[DataContract(Name = "SoCredentials", Namespace = Ns.S87)]
public class SoCredentialsHeader {
    [DataMember(Order = 0)] public string Ticket;
}

[DataContract(Name = "SoTimeZone", Namespace = Ns.S87)]
public class SoTimeZoneHeader {
    [DataMember(Order = 0)] public int SoTimeZoneId;
    [DataMember(Order = 1)] public string SoTimeZoneLocationCode;
}

[MessageContract(WrapperName = "AuthenticateUsernamePassword", WrapperNamespace = Ns.S87, IsWrapped = true)]
public class LoginRequest {
    [MessageHeader(Name = "ApplicationToken", Namespace = Ns.S87)] public string ApplicationToken;
    [MessageBodyMember(Namespace = Ns.S87, Order = 0)] public string UserName;
    [MessageBodyMember(Namespace = Ns.S87, Order = 1)] public string Password;
}

[MessageContract(WrapperName = "AuthenticateResponse", WrapperNamespace = Ns.S87, IsWrapped = true)]
public class LoginResponse {
    [MessageHeader(Name = "Succeeded", Namespace = Ns.S87)] public bool Succeeded;
    [MessageBodyMember(Namespace = Ns.S87, Order = 0)] public S87P.SoPrincipalCarrier Response;
    [MessageBodyMember(Namespace = Ns.S87, Order = 1)] public S87P.SoCredentials Credentials;
    [MessageBodyMember(Namespace = Ns.S87, Order = 2)] public bool AuthenticationSucceeded;
}

[ServiceContract(Namespace = Ns.S87, Name = "SoPrincipal")]
public interface ISoPrincipalLogin {
    [OperationContract(Action = Ns.S87 + "/SoPrincipal/AuthenticateUsernamePassword",
                       ReplyAction = Ns.S87 + "/SoPrincipal/AuthenticateUsernamePasswordResponse")]
    LoginResponse AuthenticateUsernamePassword(LoginRequest request);
}

public static class Program {
    const string AppToken = "interop-matrix";
    const string TzLocation = "Europe/Oslo";

    static string Text(string value) {
        return value == null ? "" : value.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');
    }

    static Binding MakeBinding(bool soap12) {
        if (!soap12) {
            return new BasicHttpBinding { MaxReceivedMessageSize = 16 << 20 };
        }
        var encoding = new TextMessageEncodingBindingElement(MessageVersion.Soap12WSAddressing10, Encoding.UTF8);
        var transport = new HttpTransportBindingElement { MaxReceivedMessageSize = 16 << 20 };
        return new CustomBinding(encoding, transport);
    }

    public static int Main(string[] argv) {
        string bas = null, panels = null, user = "demo", password = "demo";
        bool soap12 = false;
        for (int i = 0; i + 1 < argv.Length; i += 2) {
            switch (argv[i]) {
                case "--base": bas = argv[i + 1]; break;
                case "--panels": panels = argv[i + 1]; break;
                case "--user": user = argv[i + 1]; break;
                case "--password": password = argv[i + 1]; break;
                case "--soap": soap12 = argv[i + 1] == "12"; break;
            }
        }
        var names = panels.Split(',');

        var login = new ChannelFactory<ISoPrincipalLogin>(MakeBinding(soap12),
            new EndpointAddress(bas + "/Remote/Services87/SoPrincipal.svc")).CreateChannel();
        var auth = login.AuthenticateUsernamePassword(new LoginRequest { ApplicationToken = AppToken, UserName = user, Password = password });
        if (!auth.AuthenticationSucceeded || auth.Credentials == null || auth.Credentials.Ticket == null || !auth.Credentials.Ticket.StartsWith("7T:")) {
            Console.Error.WriteLine("login failed");
            return 2;
        }

        var client = new CustomerServiceClient(MakeBinding(soap12), new EndpointAddress(bas + "/Remote/Services87/CustomerService.svc"));
        S87C.StatisticsDataSet[] sets;
        using (new OperationContextScope(client.InnerChannel)) {
            var headers = OperationContext.Current.OutgoingMessageHeaders;
            headers.Add(MessageHeader.CreateHeader("ApplicationToken", Ns.S87, AppToken));
            headers.Add(MessageHeader.CreateHeader("Credentials", Ns.S87, new SoCredentialsHeader { Ticket = auth.Credentials.Ticket }));
            headers.Add(MessageHeader.CreateHeader("TimeZone", Ns.S87, new SoTimeZoneHeader { SoTimeZoneId = 0, SoTimeZoneLocationCode = TzLocation }));
            var functions = new S87C.StatusScreenPanelType[names.Length];
            for (int i = 0; i < names.Length; i++) {
                functions[i] = (S87C.StatusScreenPanelType)Enum.Parse(typeof(S87C.StatusScreenPanelType), names[i]);
            }
            sets = client.GetStatistics(functions);
            // Mono leaves IncomingMessageHeaders unset on the client side; read Succeeded where it is there.
            var incoming = OperationContext.Current.IncomingMessageHeaders;
            int at = incoming == null ? -1 : incoming.FindHeader("Succeeded", Ns.S87);
            if (at >= 0 && !incoming.GetHeader<bool>(at)) {
                Console.Error.WriteLine("Succeeded=false");
                return 3;
            }
        }
        if (sets == null || sets.Length != names.Length) {
            Console.Error.WriteLine("expected " + names.Length + " data sets, got " + (sets == null ? 0 : sets.Length));
            return 1;
        }
        var output = new StringBuilder();
        for (int i = 0; i < sets.Length; i++) {
            output.Append(names[i]).Append("\t#set\t").Append(Text(sets[i].Label)).Append('\n');
            foreach (var value in sets[i].Values ?? new S87C.StatisticsDataValue[0]) {
                output.Append(names[i]).Append('\t').Append(Text(value.Label)).Append('\t')
                      .Append(value.Value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            }
        }
        var stdout = Console.OpenStandardOutput();
        var bytes = new UTF8Encoding(false).GetBytes(output.ToString());
        stdout.Write(bytes, 0, bytes.Length);
        return 0;
    }
}
