// Starts `dealflow lsp` for *.flow files: diagnostics as you type, completion, hover, go to
// definition, references, rename, outline and formatting all come from the language server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("dealflow").get("path") || "dealflow";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "dealflow",
    "dealflow",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "dealflow" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.rhai") },
    }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
