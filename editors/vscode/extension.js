// Starts `promptc lsp` over stdio for .prompt files; everything else is declared in package.json.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("promptdsl")
    .get("server.command", ["promptc", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient("promptdsl", "promptdsl language server", server, {
    documentSelector: [{ scheme: "file", language: "promptdsl" }],
  });
  client.start();
  context.subscriptions.push(client);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
