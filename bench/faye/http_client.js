// The HTTP plumbing the bench's Node clients share (plain HTTP/1.1 keep-alive, no client library).
//   const { post, postJSON } = require("./http_client").client(BASE_URL);
// post(path, body, cookies, extra) POSTs body (JSON-encoded unless it is a string) with the headers in extra;
// cookies, a Map of name -> value or null, is sent and then updated from the answer's Set-Cookie. It resolves
// { status, text }. postJSON resolves the answer's JSON ("[]" for an empty body); with strict, an answer
// with a status of 300 or more rejects instead.
const http = require("http");

function client(base) {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

  function post(path, body, cookies, extra = {}) {
    return new Promise((resolve, reject) => {
      const data = typeof body === "string" ? body : JSON.stringify(body);
      const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...extra };
      if (cookies && cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
      const req = http.request({ host: url.hostname, port: url.port, path, method: "POST", agent, headers }, (res) => {
        for (const c of res.headers["set-cookie"] || []) {
          const [kv] = c.split(";");
          const i = kv.indexOf("=");
          if (cookies) cookies.set(kv.slice(0, i).trim(), kv.slice(i + 1).trim());
        }
        const chunks = [];
        res.on("data", (d) => chunks.push(d));
        res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      });
      req.on("error", reject);
      req.setTimeout(60000, () => req.destroy(new Error("timeout")));
      req.end(data);
    });
  }

  async function postJSON(path, body, cookies, extra, strict = false) {
    const { status, text } = await post(path, body, cookies, extra);
    if (strict && status >= 300) throw new Error(`${path}: ${status} ${text.slice(0, 300)}`);
    return JSON.parse(text || "[]");
  }

  return { post, postJSON };
}

module.exports = { client };
