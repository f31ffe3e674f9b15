// Parse LogQL queries with Grafana's own grammar (@grafana/lezer-logql, the one Grafana's Loki editor uses).
// Reads a JSON list of queries on stdin; prints a JSON list of {query, ok, error} (error: the offset and the text
// around the first syntax error). The module is looked up in DEVENV_NODE_MODULES (scripts/test.sh installs it).
const path = require("path");
const modules = process.env.DEVENV_NODE_MODULES || path.join(__dirname, "..", "..", "..", ".cache", "node", "node_modules");
const { parser } = require(path.join(modules, "@grafana", "lezer-logql"));

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((query) => {
    let error = null;
    parser.parse(query).iterate({
      enter: (node) => {
        if (error === null && node.type.isError) {
          error = `at ${node.from}: ...${query.slice(Math.max(0, node.from - 20), node.from + 20)}...`;
        }
      },
    });
    return { query, ok: error === null, error };
  });
  process.stdout.write(JSON.stringify(out));
});
