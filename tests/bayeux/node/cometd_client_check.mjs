// Checks the Bayeux server with the official CometD JavaScript client (cometd 9 +
// cometd-nodejs-client 2), once per transport.
//
//   node cometd_client_check.mjs <bayeux-url> <control-url> [long-polling|websocket ...]
//
// For each transport: handshake, subscribe to /statistics/v3/updates, ask the
// test server (control API) to publish there, wait for the message, publish to
// /chat/** from the client and receive it back, then disconnect.
// Prints one JSON line per transport and exits non-zero on failure.
import {adapt} from "cometd-nodejs-client";
import {CometD} from "cometd";

adapt();

const [url, control, ...wanted] = process.argv.slice(2);
const transports = wanted.length ? wanted : ["long-polling", "websocket"];

function check(transport) {
    return new Promise((resolve, reject) => {
        const cometd = new CometD();
        const timer = setTimeout(() => {
            cometd.disconnect();
            reject(new Error(`${transport}: timed out`));
        }, 10000);
        const fail = (why) => {
            clearTimeout(timer);
            cometd.disconnect();
            reject(new Error(`${transport}: ${why}`));
        };
        for (const other of ["long-polling", "websocket"]) {
            if (other !== transport) {
                cometd.unregisterTransport(other);
            }
        }
        cometd.configure({url: url, logLevel: "warn"});
        const result = {transport: transport, received: []};
        let chatSent = false;

        cometd.handshake((reply) => {
            if (!reply.successful) {
                fail(`handshake failed: ${JSON.stringify(reply)}`);
                return;
            }
            result.clientId = cometd.getClientId();
            cometd.subscribe("/chat/**", (message) => {
                result.received.push({channel: message.channel, data: message.data});
                result.usedTransport = cometd.getTransport().type;
                clearTimeout(timer);
                cometd.disconnect(() => resolve(result));
            });
            cometd.subscribe("/statistics/v3/updates", (message) => {
                result.received.push({channel: message.channel, data: message.data});
                if (!chatSent) {
                    chatSent = true;
                    cometd.publish("/chat/room", {from: transport}, (ack) => {
                        if (!ack.successful) {
                            fail(`publish failed: ${JSON.stringify(ack)}`);
                        }
                    });
                }
            }, (subscribeReply) => {
                if (!subscribeReply.successful) {
                    fail(`subscribe failed: ${JSON.stringify(subscribeReply)}`);
                    return;
                }
                fetch(control + "/publish", {
                    method: "POST",
                    body: JSON.stringify({channel: "/statistics/v3/updates", data: {transport: transport}}),
                }).catch((error) => fail(`control publish failed: ${error}`));
            });
        });
    });
}

let status = 0;
for (const transport of transports) {
    try {
        console.log(JSON.stringify(await check(transport)));
    } catch (error) {
        console.log(JSON.stringify({transport: transport, error: String(error.message || error)}));
        status = 1;
    }
}
process.exit(status);
