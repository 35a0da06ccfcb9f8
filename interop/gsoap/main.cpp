// gSOAP (wsdl2h + soapcpp2 -j) proxy: log in through SoPrincipal, GetStatistics with all three input headers,
// print canonical lines. interop/run runs wsdl2h on both ?wsdl URLs (one proxy class: Op() calls the SOAP 1.1
// binding, Op_() the SOAP 1.2 binding) and compiles this file against it.
// Pitfall: the WSDL declares the soap12 namespace, so the generated nsmap defaults to SOAP 1.2 for both
// bindings; the SOAP-ENV/SOAP-ENC entries of the namespace table are set to the wanted version before any call
// (gSOAP takes the envelope version from that table).
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "soapBasicHttpBinding_USCORECustomerServiceProxy.h"
#include "BasicHttpBinding_USCORECustomerService.nsmap"

typedef BasicHttpBinding_USCORECustomerServiceProxy Proxy;

static std::string text(const std::string *value) {
    if (value == NULL) return "";
    std::string out = *value;
    for (size_t i = 0; i < out.size(); i++) {
        if (out[i] == '\t' || out[i] == '\r' || out[i] == '\n') out[i] = ' ';
    }
    return out;
}

static int fault(Proxy &proxy, const char *what) {
    fprintf(stderr, "%s failed: ", what);
    proxy.soap_stream_fault(std::cerr);
    return 1;
}

int main(int argc, char **argv) {
    std::string base, panels, user = "demo", password = "demo";
    bool soap12 = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--base")) base = argv[i + 1];
        else if (!strcmp(argv[i], "--panels")) panels = argv[i + 1];
        else if (!strcmp(argv[i], "--user")) user = argv[i + 1];
        else if (!strcmp(argv[i], "--password")) password = argv[i + 1];
        else if (!strcmp(argv[i], "--soap")) soap12 = !strcmp(argv[i + 1], "12");
    }
    std::vector<std::string> names;
    std::stringstream ss(panels);
    for (std::string name; std::getline(ss, name, ',');) names.push_back(name);

    if (!soap12) {
        for (struct Namespace *ns = namespaces; ns->id; ns++) {
            if (!strcmp(ns->id, "SOAP-ENV")) ns->ns = "http://schemas.xmlsoap.org/soap/envelope/";
            if (!strcmp(ns->id, "SOAP-ENC")) ns->ns = "http://schemas.xmlsoap.org/soap/encoding/";
        }
    }
    Proxy proxy(SOAP_C_UTFSTRING);
    soap_set_namespaces(proxy.soap, namespaces);  // the proxy installs its own copy of the 1.2 table
    const std::string principalUrl = base + "/Remote/Services87/SoPrincipal.svc";
    const std::string customerUrl = base + "/Remote/Services87/CustomerService.svc";
    std::string appToken = "interop-matrix";

    // log in (input header: ApplicationToken only)
    proxy.soap_header(&appToken, NULL, NULL, NULL, NULL, NULL);
    _ns1__AuthenticateUsernamePassword login;
    login.UserName = &user;
    login.Password = &password;
    _ns1__AuthenticateResponse auth;
    int rc = soap12 ? proxy.AuthenticateUsernamePassword_(principalUrl.c_str(), NULL, &login, auth)
                    : proxy.AuthenticateUsernamePassword(principalUrl.c_str(), NULL, &login, auth);
    if (rc != SOAP_OK) return fault(proxy, "AuthenticateUsernamePassword");
    if (auth.AuthenticationSucceeded == NULL || !*auth.AuthenticationSucceeded || auth.Credentials == NULL ||
        auth.Credentials->Ticket == NULL || auth.Credentials->Ticket->compare(0, 3, "7T:") != 0) {
        fprintf(stderr, "login failed\n");
        return 2;
    }
    std::string ticket = *auth.Credentials->Ticket;

    // GetStatistics with ApplicationToken, Credentials and TimeZone
    ns1__SoCredentials credentials;
    credentials.Ticket = &ticket;
    int tzId = 0;
    std::string tzLocation = "Europe/Oslo";
    ns1__SoTimeZone tz;
    tz.SoTimeZoneId = &tzId;
    tz.SoTimeZoneLocationCode = &tzLocation;
    proxy.soap_header(&appToken, &credentials, NULL, NULL, NULL, &tz);

    ns1__ArrayOfStatusScreenPanelType functions;
    for (size_t i = 0; i < names.size(); i++) {
        enum ns1__StatusScreenPanelType value;
        if (soap_s2ns1__StatusScreenPanelType(proxy.soap, names[i].c_str(), &value) != SOAP_OK) {
            fprintf(stderr, "unknown panel %s\n", names[i].c_str());
            return 1;
        }
        functions.StatusScreenPanelType.push_back(value);
    }
    _ns1__GetStatistics request;
    request.Functions = &functions;
    _ns1__GetStatisticsResponse response;
    rc = soap12 ? proxy.GetStatistics_(customerUrl.c_str(), NULL, &request, response)
                : proxy.GetStatistics(customerUrl.c_str(), NULL, &request, response);
    if (rc != SOAP_OK) return fault(proxy, "GetStatistics");
    if (proxy.soap->header && proxy.soap->header->ns1__Succeeded && !*proxy.soap->header->ns1__Succeeded) {
        fprintf(stderr, "Succeeded=false\n");
        return 3;
    }
    size_t count = response.Response ? response.Response->StatisticsDataSet.size() : 0;
    if (count != names.size()) {
        fprintf(stderr, "expected %zu data sets, got %zu\n", names.size(), count);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        ns1__StatisticsDataSet *set = response.Response->StatisticsDataSet[i];
        printf("%s\t#set\t%s\n", names[i].c_str(), set ? text(set->Label).c_str() : "");
        if (set == NULL || set->Values == NULL) continue;
        for (ns1__StatisticsDataValue *value : set->Values->StatisticsDataValue) {
            if (value == NULL) continue;
            printf("%s\t%s\t%.17g\n", names[i].c_str(), text(value->Label).c_str(), value->Value ? *value->Value : 0.0);
        }
    }
    proxy.destroy();
    return 0;
}
