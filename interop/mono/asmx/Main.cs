// Mono wsdl.exe (ASMX SoapHttpClientProtocol) proxies: log in through SoPrincipal, GetStatistics with all three
// input headers, print canonical lines. Built twice by interop/run: against `wsdl -protocol:SOAP` proxies and
// against `wsdl -protocol:SOAP12` proxies (namespaces S87C = CustomerService, S87P = SoPrincipal).
using System;
using System.Globalization;
using System.Text;

public static class Program {
    const string AppToken = "interop-matrix";
    const string TzLocation = "Europe/Oslo";

    static string Text(string value) {
        return value == null ? "" : value.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');
    }

    public static int Main(string[] argv) {
        string bas = null, panels = null, user = "demo", password = "demo";
        for (int i = 0; i + 1 < argv.Length; i += 2) {
            switch (argv[i]) {
                case "--base": bas = argv[i + 1]; break;
                case "--panels": panels = argv[i + 1]; break;
                case "--user": user = argv[i + 1]; break;
                case "--password": password = argv[i + 1]; break;
            }
        }
        var names = panels.Split(',');

        var principal = new S87P.WcfSoPrincipalService();
        principal.Url = bas + "/Remote/Services87/SoPrincipal.svc";
        principal.ApplicationToken = new S87P.@string { Text = new[] { AppToken } };
        S87P.SoCredentials credentials;
        bool succeeded, specified;
        principal.AuthenticateUsernamePassword(user, password, out credentials, out succeeded, out specified);
        if (!succeeded || credentials == null || credentials.Ticket == null || !credentials.Ticket.StartsWith("7T:")) {
            Console.Error.WriteLine("login failed");
            return 2;
        }

        var customer = new S87C.WcfCustomerServiceService();
        customer.Url = bas + "/Remote/Services87/CustomerService.svc";
        customer.ApplicationToken = new S87C.@string { Text = new[] { AppToken } };
        // `Credentials` is renamed `CredentialsValue` after generation (it clashes with
        // SoapHttpClientProtocol.Credentials; Microsoft's wsdl.exe names header members <Name>Value).
        customer.CredentialsValue = new S87C.SoCredentials { Ticket = credentials.Ticket };
        customer.TimeZone = new S87C.SoTimeZone { SoTimeZoneId = 0, SoTimeZoneIdSpecified = true, SoTimeZoneLocationCode = TzLocation };
        var functions = new S87C.StatusScreenPanelType[names.Length];
        for (int i = 0; i < names.Length; i++) {
            functions[i] = (S87C.StatusScreenPanelType)Enum.Parse(typeof(S87C.StatusScreenPanelType), names[i]);
        }
        var sets = customer.GetStatistics(functions);
        if (customer.Succeeded != null && customer.Succeeded.Text != null && string.Join("", customer.Succeeded.Text).Trim() == "false") {
            Console.Error.WriteLine("Succeeded=false: " + (customer.ExceptionInfo != null ? customer.ExceptionInfo.Message : ""));
            return 3;
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
