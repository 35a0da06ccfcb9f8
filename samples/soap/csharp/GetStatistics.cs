// A .NET / Mono client for services87's Services87 SOAP endpoints: SoPrincipal log-in, then
// CustomerService.GetStatistics for all panels, printed as a table.
//
// Build and run (Mono):
//   mcs -r:System.Xml.Linq.dll -r:System.Net.Http.dll samples/soap/csharp/GetStatistics.cs -out:GetStatistics.exe
//   mono GetStatistics.exe http://127.0.0.1:8087 demo demo
// (.NET: put this file in a console project; no extra packages.)
//
// Why messages and not a wsdl.exe proxy: Mono's ASMX wsdl.exe cannot reflect the vendor's WSDL (the
// "Credentials" header clashes with SoapHttpClientProtocol.Credentials, and four operations share the
// AuthenticateResponse element), and svcutil drops the soap:headers. See docs/soap.md.
using System;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Xml.Linq;

class GetStatisticsSample
{
    static readonly XNamespace S = "http://schemas.xmlsoap.org/soap/envelope/";
    static readonly XNamespace T = "http://www.superoffice.net/ws/crm/NetServer/Services87";
    static readonly string[] Panels = {
        "OpenRequestsPerCategory", "OpenRequestsPerTopCategory", "OpenRequestsPerUser", "OpenRequestsPerUserGroup",
        "OpenRequestsPerPriority", "OpenRequestsPerStatus", "OpenRequestsPerOrigin", "NumberOfCreatedRequestsPerDay",
        "NumberOfCreatedRequestsPerWeek", "NumberOfCreatedRequestsPerMonth", "UserResponseTimePerDay",
        "UserReponseTimePerWeek", "UserResponseTimePerMonth", "OwnOpenRequests", "UnassignedRequests", "Hotlist",
        "StatusScreen" };

    static XDocument Call(HttpClient http, string url, string action, XElement header, XElement body)
    {
        var env = new XDocument(new XElement(S + "Envelope", new XElement(S + "Header", header), new XElement(S + "Body", body)));
        var content = new StringContent(env.ToString(SaveOptions.DisableFormatting), Encoding.UTF8, "text/xml");
        content.Headers.Add("SOAPAction", "\"" + T.NamespaceName + "/" + action + "\"");
        var response = http.PostAsync(url, content).Result;
        var doc = XDocument.Parse(response.Content.ReadAsStringAsync().Result);
        var fault = doc.Descendants(S + "Fault").FirstOrDefault();
        if (fault != null) throw new Exception("SOAP fault: " + (string)fault.Element("faultstring"));
        if ((string)doc.Descendants(T + "Succeeded").FirstOrDefault() == "false")
            throw new Exception((string)doc.Descendants(T + "ExceptionType").FirstOrDefault() + ": " +
                                (string)doc.Descendants(T + "Message").FirstOrDefault());
        return doc;
    }

    static void Main(string[] args)
    {
        string baseUrl = args.Length > 0 ? args[0] : "http://127.0.0.1:8087";
        string user = args.Length > 1 ? args[1] : "demo";
        string password = args.Length > 2 ? args[2] : user;
        var http = new HttpClient();

        var login = Call(http, baseUrl + "/Remote/Services87/SoPrincipal.svc", "SoPrincipal/AuthenticateUsernamePassword",
            null, new XElement(T + "AuthenticateUsernamePassword",
                new XElement(T + "UserName", user), new XElement(T + "Password", password)));
        string ticket = (string)login.Descendants(T + "Ticket").First();
        Console.WriteLine("Logged in as " + (string)login.Descendants(T + "FullName").First());

        var stats = Call(http, baseUrl + "/Remote/Services87/CustomerService.svc", "CustomerService/GetStatistics",
            new XElement(T + "Credentials", new XElement(T + "Ticket", ticket)),
            new XElement(T + "GetStatistics", new XElement(T + "Functions",
                Panels.Select(p => new XElement(T + "StatusScreenPanelType", p)))));
        var sets = stats.Descendants(T + "StatisticsDataSet").ToList();
        for (int i = 0; i < sets.Count; i++)
        {
            Console.WriteLine();
            Console.WriteLine("== " + Panels[i] + ": " + (string)sets[i].Element(T + "Label") + " ==");
            foreach (var v in sets[i].Descendants(T + "StatisticsDataValue"))
                Console.WriteLine("  {0,-40} {1,12:F2}  {2}", (string)v.Element(T + "Label"),
                    double.Parse((string)v.Element(T + "Value"), System.Globalization.CultureInfo.InvariantCulture),
                    (string)v.Element(T + "Description"));
        }
    }
}
