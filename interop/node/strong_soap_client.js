// strong-soap: log in through SoPrincipal, GetStatistics with all three input headers, print canonical lines.
// strong-soap picks SOAP 1.1 or 1.2 from the binding of the port it calls, so the 1.2 cell calls the
// WSDL's SOAP 1.2 port (found by its soap12 binding, not by name).
"use strict";

const {soap, QName} = require("strong-soap");
const XMLHandler = require("strong-soap/src/parser/xmlHandler");
const {NS, APP_TOKEN, TZ_LOCATION, parseArgs, list, emit, fail} = require("./common");

function createClient(url) {
    return new Promise((resolve, reject) => {
        soap.createClient(url, {}, (err, client) => (err ? reject(err) : resolve(client)));
    });
}

// The operation on the port whose binding speaks the wanted SOAP version.
function operation(client, name, version) {
    const services = client.wsdl.definitions.services;
    for (const service of Object.values(services)) {
        for (const [portName, port] of Object.entries(service.ports)) {
            const binding = port.binding;
            const op = binding && binding.operations[name];
            const is12 = op && op.soapVersion === "1.2";
            if ((version === "12") === Boolean(is12)) {
                const method = client[service.$name][portName][name];
                return (args) => new Promise((resolve, reject) => {
                    method(args, (err, result, envelope, soapHeader) => {
                        if (err) {
                            reject(err);
                        } else if (result === undefined && typeof envelope === "string") {
                            // strong-soap looks the result up under <Op>Response; the four SoPrincipal
                            // Authenticate* operations share one wrapper element, AuthenticateResponse
                            // (vendor WSDL), so read the body of the envelope it hands back instead.
                            const json = new XMLHandler().xmlToJson(null, envelope, null);
                            const body = json.Body || {};
                            resolve([body[Object.keys(body)[0]], soapHeader]);
                        } else {
                            resolve([result, soapHeader]);
                        }
                    });
                });
            }
        }
    }
    throw new Error(`no SOAP ${version} port for ${name}`);
}

// A header of a simple type is given as XML: an object value would become an attribute.
const appToken = () => `<ApplicationToken xmlns="${NS}">${APP_TOKEN}</ApplicationToken>`;

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const svc = (name) => `${args.base}/Remote/Services87/${name}.svc?wsdl`;

    const principal = await createClient(svc("SoPrincipal"));
    principal.addSoapHeader(appToken());
    const [auth] = await operation(principal, "AuthenticateUsernamePassword", args.soap)({UserName: args.user, Password: args.password});
    const ticket = auth && auth.Credentials && auth.Credentials.Ticket;
    if (!auth || String(auth.AuthenticationSucceeded) !== "true" || !String(ticket || "").startsWith("7T:")) {
        throw new Error("login failed: " + JSON.stringify(auth));
    }

    const customer = await createClient(svc("CustomerService"));
    customer.addSoapHeader(appToken());
    customer.addSoapHeader({Ticket: ticket}, new QName(NS, "Credentials"));
    customer.addSoapHeader({SoTimeZoneId: 0, SoTimeZoneLocationCode: TZ_LOCATION}, new QName(NS, "TimeZone"));
    const [result, soapHeader] = await operation(customer, "GetStatistics", args.soap)({Functions: {StatusScreenPanelType: args.panels}});
    if (soapHeader && soapHeader.Succeeded !== undefined && String(soapHeader.Succeeded) !== "true") {
        throw new Error("Succeeded=false: " + JSON.stringify(soapHeader));
    }
    const sets = list(result && result.Response && result.Response.StatisticsDataSet);
    emit(args.panels, sets.map((s) => [s.Label, list(s.Values && s.Values.StatisticsDataValue).map((v) => [v.Label, v.Value])]));
}

main().catch(fail);
