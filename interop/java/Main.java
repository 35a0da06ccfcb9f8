// JAX-WS RI (wsimport) proxies: log in through SoPrincipal, GetStatistics with all three input headers, print
// canonical lines. interop/run generates packages s87c (CustomerService) and s87p (SoPrincipal) with
// `wsimport -extension -XadditionalHeaders -b bindings.xjb`: -extension keeps the SOAP 1.2 port,
// -XadditionalHeaders turns the WSDL's soap:header parts into method parameters.
// The port is chosen by the SOAP version of its binding (not by its name).
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Holder;

import com.sun.xml.ws.api.SOAPVersion;
import com.sun.xml.ws.api.WSBinding;

public class Main {
    static final String APP_TOKEN = "interop-matrix";
    static final String TZ_LOCATION = "Europe/Oslo";

    static String text(String value) {
        return value == null ? "" : value.replace('\t', ' ').replace('\r', ' ').replace('\n', ' ');
    }

    @SuppressWarnings("unchecked")
    static <T> T port(Object service, Class<T> sei, boolean soap12, String address) throws Exception {
        for (Method m : service.getClass().getMethods()) {
            if (m.getParameterCount() == 0 && m.getReturnType() == sei) {
                T candidate = (T) m.invoke(service);
                SOAPVersion version = ((WSBinding) ((BindingProvider) candidate).getBinding()).getSOAPVersion();
                if ((version == SOAPVersion.SOAP_12) == soap12) {
                    ((BindingProvider) candidate).getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, address);
                    return candidate;
                }
            }
        }
        throw new IllegalStateException("no SOAP " + (soap12 ? "1.2" : "1.1") + " port for " + sei.getName());
    }

    public static void main(String[] argv) throws Exception {
        String base = null, panels = null, user = "demo", password = "demo";
        boolean soap12 = false;
        for (int i = 0; i + 1 < argv.length; i += 2) {
            switch (argv[i]) {
                case "--base": base = argv[i + 1]; break;
                case "--panels": panels = argv[i + 1]; break;
                case "--user": user = argv[i + 1]; break;
                case "--password": password = argv[i + 1]; break;
                case "--soap": soap12 = argv[i + 1].equals("12"); break;
            }
        }
        String[] names = panels.split(",");
        String principalUrl = base + "/Remote/Services87/SoPrincipal.svc";
        String customerUrl = base + "/Remote/Services87/CustomerService.svc";

        s87p.SoPrincipal principal = port(new s87p.WcfSoPrincipalService(new java.net.URL(principalUrl + "?wsdl")),
                                          s87p.SoPrincipal.class, soap12, principalUrl);
        Holder<s87p.SoPrincipalCarrier> carrier = new Holder<>();
        Holder<s87p.SoCredentials> credentials = new Holder<>();
        Holder<Boolean> authenticated = new Holder<>();
        principal.authenticateUsernamePassword(user, password, carrier, credentials, authenticated, APP_TOKEN,
                new Holder<>(), new Holder<>(), new Holder<>(), new Holder<>());
        String ticket = credentials.value == null ? null : credentials.value.getTicket();
        if (!Boolean.TRUE.equals(authenticated.value) || ticket == null || !ticket.startsWith("7T:")) {
            System.err.println("login failed");
            System.exit(2);
        }

        s87c.CustomerService customer = port(new s87c.WcfCustomerServiceService(new java.net.URL(customerUrl + "?wsdl")),
                                             s87c.CustomerService.class, soap12, customerUrl);
        s87c.ArrayOfStatusScreenPanelType functions = new s87c.ArrayOfStatusScreenPanelType();
        for (String name : names) {
            functions.getStatusScreenPanelType().add(s87c.StatusScreenPanelType.fromValue(name));
        }
        s87c.SoCredentials creds = new s87c.SoCredentials();
        creds.setTicket(ticket);
        s87c.SoTimeZone tz = new s87c.SoTimeZone();
        tz.setSoTimeZoneId(0);
        tz.setSoTimeZoneLocationCode(TZ_LOCATION);
        Holder<Boolean> succeeded = new Holder<>();
        Holder<s87c.SoExceptionInfo> exceptionInfo = new Holder<>();
        s87c.ArrayOfStatisticsDataSet result = customer.getStatistics(functions, APP_TOKEN, creds, new Holder<>(tz),
                exceptionInfo, new Holder<>(), succeeded);
        if (Boolean.FALSE.equals(succeeded.value)) {
            System.err.println("Succeeded=false: " + (exceptionInfo.value == null ? "" : exceptionInfo.value.getMessage()));
            System.exit(3);
        }
        List<s87c.StatisticsDataSet> sets = result == null ? List.of() : result.getStatisticsDataSet();
        if (sets.size() != names.length) {
            System.err.println("expected " + names.length + " data sets, got " + sets.size());
            System.exit(1);
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < sets.size(); i++) {
            s87c.StatisticsDataSet set = sets.get(i);
            out.append(names[i]).append("\t#set\t").append(text(set.getLabel())).append('\n');
            List<s87c.StatisticsDataValue> values = set.getValues() == null ? List.of() : set.getValues().getStatisticsDataValue();
            for (s87c.StatisticsDataValue value : values) {
                out.append(names[i]).append('\t').append(text(value.getLabel())).append('\t').append(value.getValue()).append('\n');
            }
        }
        PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        stdout.print(out);
        stdout.flush();
    }
}
