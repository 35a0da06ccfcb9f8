// faye's Node client against /statistics/v3/notifications: handshake with the Genesys headers, subscribe to
// /statistics/v3/updates, print READY, wait for one pushed StatisticUpdate, print `UPDATE <json>`, disconnect.
//   node faye_client.js --url URL --token BEARER --api-key KEY [--transport long-polling|websocket]
"use strict";
const faye = require("faye");

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const transport = args.transport || "long-polling";

const client = new faye.Client(args.url, {timeout: 30});
if (transport !== "websocket") client.disable("websocket");
client.disable("eventsource");
client.setHeader("x-api-key", args["api-key"]);
client.setHeader("Authorization", "Bearer " + args.token);
const timer = setTimeout(() => { console.error("timed out"); process.exit(1); }, 30000);
const subscription = client.subscribe("/statistics/v3/updates", (data) => {
    console.log("UPDATE " + JSON.stringify({transport: transport, data: data}));
    clearTimeout(timer);
    client.disconnect();
    setTimeout(() => process.exit(0), 200);
});
subscription.then(() => console.log("READY"), (error) => {
    console.error("subscribe failed: " + JSON.stringify(error));
    process.exit(1);
});
