//! `dealflow lsp`: a Language Server Protocol server over standard input and output for
//! pipeline files. It runs the same parser and checker as `dealflow check` (no second
//! analysis): problems as you type, and formatting as `dealflow fmt` does it.

mod text;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use lsp_server::{Connection, ExtractError, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{Formatting, Request as _};
use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DocumentFormattingParams,
    InitializeParams, Location, NumberOrString, OneOf, PublishDiagnosticsParams,
    ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
};

use crate::diag::Severity;
pub use text::Text;

/// Why the server stopped before the client said `exit`.
#[derive(Debug, thiserror::Error)]
pub enum LspError {
    /// The client broke the protocol (or went away without `shutdown`).
    #[error("language server protocol: {0}")]
    Protocol(#[from] lsp_server::ProtocolError),
    /// A message could not be written.
    #[error("cannot answer the editor: {0}")]
    Send(String),
    /// Standard input or output failed.
    #[error("standard input or output: {0}")]
    Io(#[from] std::io::Error),
    /// The client's `initialize` could not be read.
    #[error("unreadable initialize parameters: {0}")]
    Initialize(#[from] serde_json::Error),
}

/// Serves one editor on standard input and output until it says `exit`.
pub fn run_stdio() -> Result<(), LspError> {
    let (connection, io) = Connection::stdio();
    let caps = capabilities();
    let params = connection.initialize(serde_json::to_value(caps)?)?;
    let _params: InitializeParams = serde_json::from_value(params)?;
    Server::default().run(&connection)?;
    drop(connection);
    io.join()?;
    Ok(())
}

/// What the server offers.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..Default::default()
    }
}

/// An open document.
#[derive(Debug)]
struct Doc {
    version: i32,
    text: Text,
    /// The file it is, for the script it names (read beside it).
    path: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Server {
    docs: HashMap<String, (Uri, Doc)>,
    /// Documents changed since their diagnostics were last published.
    dirty: BTreeSet<String>,
}

impl Server {
    fn run(&mut self, conn: &Connection) -> Result<(), LspError> {
        loop {
            // Every message waiting is taken before the checker runs, so a burst of keystrokes
            // is checked once, on its last text.
            let msg = match conn.receiver.try_recv() {
                Ok(msg) => msg,
                Err(_) => {
                    self.publish(conn)?;
                    match conn.receiver.recv() {
                        Ok(msg) => msg,
                        Err(_) => return Ok(()),
                    }
                }
            };
            match msg {
                Message::Request(req) => {
                    if conn.handle_shutdown(&req)? {
                        return Ok(());
                    }
                    let resp = self.request(req);
                    send(conn, Message::Response(resp))?;
                }
                Message::Notification(n) => self.notification(n),
                Message::Response(_) => {}
            }
        }
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD)
                {
                    let d = p.text_document;
                    self.open(d.uri, d.version, d.text);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) = n.extract::<lsp_types::DidChangeTextDocumentParams>(
                    DidChangeTextDocument::METHOD,
                ) && let Some(change) = p.content_changes.into_iter().last()
                {
                    // Full sync: the last change holds the whole text.
                    self.open(p.text_document.uri, p.text_document.version, change.text);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                {
                    let key = p.text_document.uri.as_str().to_string();
                    self.docs.remove(&key);
                    self.dirty.remove(&key);
                }
            }
            _ => {}
        }
    }

    fn open(&mut self, uri: Uri, version: i32, text: String) {
        let key = uri.as_str().to_string();
        let path = file_path(&uri);
        let doc = Doc {
            version,
            text: Text::new(text),
            path,
        };
        self.docs.insert(key.clone(), (uri, doc));
        self.dirty.insert(key);
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        match req.method.as_str() {
            Formatting::METHOD => match extract::<Formatting>(req) {
                Ok((id, p)) => ok(id, self.format(&p)),
                Err(resp) => *resp,
            },
            _ => Response::new_err(
                id,
                lsp_server::ErrorCode::MethodNotFound as i32,
                format!("dealflow lsp does not answer `{}`", req.method),
            ),
        }
    }

    /// `dealflow fmt` of the document: one edit replacing it all, none when it is formatted
    /// already or does not parse (a file with syntax errors is never touched).
    fn format(&self, p: &DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let (_, doc) = self.docs.get(p.text_document.uri.as_str())?;
        let parsed = crate::parse::parse(&doc.text.text);
        if parsed.diagnostics.iter().any(|d| d.is_error()) {
            return None;
        }
        let formatted = crate::fmt::format(&parsed.file, &doc.text.text);
        if formatted == doc.text.text {
            return Some(Vec::new());
        }
        Some(vec![TextEdit::new(doc.text.whole(), formatted)])
    }

    /// Checks every document changed since the last time and sends what was found.
    fn publish(&mut self, conn: &Connection) -> Result<(), LspError> {
        for key in std::mem::take(&mut self.dirty) {
            let Some((uri, doc)) = self.docs.get(&key) else {
                continue;
            };
            let diagnostics = diagnostics(uri, doc);
            let params = PublishDiagnosticsParams::new(uri.clone(), diagnostics, Some(doc.version));
            let n = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
            send(conn, Message::Notification(n))?;
        }
        Ok(())
    }
}

/// What `dealflow check` says of a document, as the protocol's diagnostics.
fn diagnostics(uri: &Uri, doc: &Doc) -> Vec<Diagnostic> {
    let dir = doc
        .path
        .as_ref()
        .and_then(|p| p.parent().map(PathBuf::from));
    let loader = |name: &str| -> Result<String, String> {
        let dir = dir.as_ref().ok_or("the document is not a file on disk")?;
        std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string())
    };
    let analysis = crate::load::analyze(&doc.text.text, &loader);
    analysis
        .diagnostics
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(label) = &d.label {
                message.push_str(&format!(" ({label})"));
            }
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            let related = d
                .related
                .iter()
                .map(|(span, note)| DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), doc.text.range(span.start, span.end)),
                    message: note.clone(),
                })
                .collect::<Vec<_>>();
            Diagnostic {
                range: doc.text.range(d.span.start, d.span.end),
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.id.to_string())),
                source: Some("dealflow".to_string()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..Default::default()
            }
        })
        .collect()
}

/// The path of a `file:` URI.
fn file_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()?;
    Some(PathBuf::from(decoded.into_owned()))
}

fn extract<R: lsp_types::request::Request>(
    req: Request,
) -> Result<(RequestId, R::Params), Box<Response>> {
    let id = req.id.clone();
    req.extract::<R::Params>(R::METHOD).map_err(|e| {
        let message = match e {
            ExtractError::JsonError { error, .. } => error.to_string(),
            ExtractError::MethodMismatch(r) => format!("not `{}`", r.method),
        };
        Box::new(Response::new_err(
            id,
            lsp_server::ErrorCode::InvalidParams as i32,
            message,
        ))
    })
}

fn ok<T: serde::Serialize>(id: RequestId, result: T) -> Response {
    match serde_json::to_value(result) {
        Ok(v) => Response {
            id,
            response_result: Ok(v),
        },
        Err(e) => Response::new_err(
            id,
            lsp_server::ErrorCode::InternalError as i32,
            e.to_string(),
        ),
    }
}

fn send(conn: &Connection, msg: Message) -> Result<(), LspError> {
    conn.sender
        .send(msg)
        .map_err(|e| LspError::Send(e.to_string()))
}
