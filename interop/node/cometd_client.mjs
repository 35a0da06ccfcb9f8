// Official CometD JavaScript client (cometd + cometd-nodejs-client) against /statistics/v3/notifications:
// handshake with the Genesys headers, subscribe to /statistics/v3/updates, print READY, wait for one pushed
// StatisticUpdate (the matrix triggers it), print it as `UPDATE <json>`, disconnect.
//   node cometd_client.mjs --url URL --token BEARER --api-key KEY [--transport long-polling|websocket]
import {adapt} from "cometd-nodejs-client";
import {CometD} from "cometd";

adapt();
const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const transport = args.transport || "long-polling";

const cometd = new CometD();
for (const other of ["long-polling", "websocket", "callback-polling"]) {
    if (other !== transport) cometd.unregisterTransport(other);
}
cometd.configure({
    url: args.url, logLevel: "warn",
    requestHeaders: {"x-api-key": args["api-key"], "Authorization": "Bearer " + args.token},
});
const timer = setTimeout(() => { console.error("timed out"); process.exit(1); }, 30000);
// A WebSocket transport cannot carry HTTP headers (cometd-nodejs-client uses the browser-style `ws` API), so the
// same credentials also travel in the handshake's ext field.
const ext = {"x-api-key": args["api-key"], "authorization": "Bearer " + args.token};
cometd.handshake({ext: ext}, (reply) => {
    if (!reply.successful) {
        console.error("handshake failed: " + JSON.stringify(reply));
        process.exit(1);
    }
    cometd.subscribe("/statistics/v3/updates", (message) => {
        console.log("UPDATE " + JSON.stringify({transport: cometd.getTransport().type, data: message.data}));
        clearTimeout(timer);
        cometd.disconnect(() => process.exit(0));
    }, (subscribeReply) => {
        if (!subscribeReply.successful) {
            console.error("subscribe failed: " + JSON.stringify(subscribeReply));
            process.exit(1);
        }
        console.log("READY");
    });
});
