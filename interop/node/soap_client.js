// node `soap`: log in through SoPrincipal, GetStatistics with all three input headers, print canonical lines.
// node-soap does not follow the WSDL binding: SOAP 1.2 needs forceSoap12Headers.
"use strict";

const soap = require("soap");
const {NS, APP_TOKEN, TZ_LOCATION, parseArgs, list, emit, fail} = require("./common");

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const options = {forceSoap12Headers: args.soap === "12"};
    const svc = (name) => `${args.base}/Remote/Services87/${name}.svc`;

    const principal = await soap.createClientAsync(svc("SoPrincipal") + "?wsdl", options);
    principal.addSoapHeader({ApplicationToken: APP_TOKEN}, "", "tns", NS);
    const [auth] = await principal.AuthenticateUsernamePasswordAsync({UserName: args.user, Password: args.password});
    const ticket = auth && auth.Credentials && auth.Credentials.Ticket;
    if (!auth || String(auth.AuthenticationSucceeded) !== "true" || !String(ticket || "").startsWith("7T:")) {
        throw new Error("login failed: " + JSON.stringify(auth));
    }

    const customer = await soap.createClientAsync(svc("CustomerService") + "?wsdl", options);
    customer.addSoapHeader({ApplicationToken: APP_TOKEN}, "", "tns", NS);
    customer.addSoapHeader({Credentials: {Ticket: ticket}}, "", "tns", NS);
    customer.addSoapHeader({TimeZone: {SoTimeZoneId: 0, SoTimeZoneLocationCode: TZ_LOCATION}}, "", "tns", NS);
    const [result, , soapHeader] = await customer.GetStatisticsAsync({Functions: {StatusScreenPanelType: args.panels}});
    if (soapHeader && soapHeader.Succeeded !== undefined && String(soapHeader.Succeeded) !== "true") {
        throw new Error("Succeeded=false: " + JSON.stringify(soapHeader));
    }
    const sets = list(result && result.Response && result.Response.StatisticsDataSet);
    emit(args.panels, sets.map((s) => [s.Label, list(s.Values && s.Values.StatisticsDataValue).map((v) => [v.Label, v.Value])]));
}

main().catch(fail);
