// Shared bits of the Node.js SOAP clients: arguments and the canonical output lines (see interop/clients/common.py).
"use strict";

const NS = "http://www.superoffice.net/ws/crm/NetServer/Services87";
const APP_TOKEN = "interop-matrix";
const TZ_LOCATION = "Europe/Oslo";

function parseArgs(argv) {
    const args = {soap: "11", user: "demo", password: "demo"};
    for (let i = 0; i < argv.length; i += 2) {
        args[argv[i].replace(/^--/, "")] = argv[i + 1];
    }
    if (!args.base || !args.panels) {
        throw new Error("usage: --base URL --panels A,B [--soap 11|12] [--user U --password P]");
    }
    args.panels = args.panels.split(",");
    return args;
}

// A repeated element comes back as an array, a single one as an object, an absent one as undefined.
function list(value) {
    if (value === undefined || value === null) return [];
    return Array.isArray(value) ? value : [value];
}

function text(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "object") return "";  // nil elements (xsi:nil) come back as {$attributes: ...}
    return String(value).replace(/[\t\r\n]/g, " ");
}

function emit(panels, datasets) {
    if (datasets.length !== panels.length) {
        throw new Error(`expected ${panels.length} data sets, got ${datasets.length}`);
    }
    const lines = [];
    datasets.forEach(([label, values], i) => {
        lines.push(`${panels[i]}\t#set\t${text(label)}`);
        for (const [vlabel, value] of values) {
            lines.push(`${panels[i]}\t${text(vlabel)}\t${value}`);
        }
    });
    process.stdout.write(lines.join("\n") + "\n");
}

function fail(error) {
    console.error(error && error.stack ? error.stack : String(error));
    if (error && error.body) console.error(String(error.body).slice(0, 2000));
    process.exit(1);
}

module.exports = {NS, APP_TOKEN, TZ_LOCATION, parseArgs, list, text, emit, fail};
