//! `dealflow lsp`: a Language Server Protocol server over standard input and output for
//! pipeline files. It runs the same parser and checker as `dealflow check` (no second
//! analysis): problems as you type (and in the script the pipeline names), completion, hover,
//! go to definition, references, rename, the outline, folding, and formatting as
//! `dealflow fmt` does it.

mod features;
mod index;
mod seen;
mod text;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use lsp_server::{Connection, ExtractError, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, FoldingRangeRequest, Formatting, GotoDefinition,
    HoverRequest, References, Rename, Request as _,
};
use lsp_types::{
    CompletionOptions, CompletionResponse, DocumentFormattingParams, DocumentSymbolResponse,
    GotoDefinitionResponse, HoverProviderCapability, InitializeParams, OneOf,
    PublishDiagnosticsParams, RenameOptions, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};

use seen::{Seen, file_path, see};
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
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(false),
            work_done_progress_options: Default::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        folding_range_provider: Some(lsp_types::FoldingRangeProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![">".into(), " ".into(), "(".into(), "{".into()]),
            ..Default::default()
        }),
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
    /// What the checker found; checked again at the first question after a change.
    seen: Option<Seen>,
    /// The names of the last text that parsed: completion offers them while a line being
    /// typed keeps the text from parsing.
    last_names: Option<index::Index>,
}

impl Doc {
    /// Checks the text if it changed since it was last checked.
    fn check(&mut self, uri: &Uri) {
        if self.seen.is_some() {
            return;
        }
        let seen = see(uri, &self.text, self.path.as_deref());
        if seen.parsed {
            self.last_names = Some(seen.index.clone());
        }
        self.seen = Some(seen);
    }
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
        // A change keeps the names of the last text that parsed (the text it replaces is
        // checked for them if no text was checked yet).
        let last_names = self.docs.remove(&key).and_then(|(uri, mut d)| {
            if d.last_names.is_none() {
                d.check(&uri);
            }
            d.last_names
        });
        let path = file_path(&uri);
        let doc = Doc {
            version,
            text: Text::new(text),
            path,
            seen: None,
            last_names,
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
            HoverRequest::METHOD => match extract::<HoverRequest>(req) {
                Ok((id, p)) => {
                    let at = p.text_document_position_params;
                    let r = self.look(&at.text_document.uri, |d, s| {
                        features::hover(&s.index, &d.text, at.position)
                    });
                    ok(id, r.flatten())
                }
                Err(resp) => *resp,
            },
            GotoDefinition::METHOD => match extract::<GotoDefinition>(req) {
                Ok((id, p)) => {
                    let at = p.text_document_position_params;
                    let uri = at.text_document.uri.clone();
                    let r = self.look(&uri, |d, s| {
                        let script = s.script.as_ref().map(|(u, _)| u);
                        features::definition(&s.index, &d.text, at.position, &uri, script)
                    });
                    ok(id, r.flatten().map(GotoDefinitionResponse::Scalar))
                }
                Err(resp) => *resp,
            },
            References::METHOD => match extract::<References>(req) {
                Ok((id, p)) => {
                    let at = p.text_document_position;
                    let uri = at.text_document.uri.clone();
                    let with_decl = p.context.include_declaration;
                    let r = self.look(&uri, |d, s| {
                        let script = s.script.as_ref().map(|(u, _)| u);
                        features::references(
                            &s.index,
                            &d.text,
                            at.position,
                            &uri,
                            with_decl,
                            script,
                        )
                    });
                    ok(id, r.flatten())
                }
                Err(resp) => *resp,
            },
            Rename::METHOD => match extract::<Rename>(req) {
                Ok((id, p)) => {
                    let at = p.text_document_position;
                    let uri = at.text_document.uri.clone();
                    let r = self.look(&uri, |d, s| {
                        features::rename(&s.index, &d.text, at.position, &p.new_name)
                    });
                    match r {
                        Some(Ok(edits)) => {
                            ok(id, WorkspaceEdit::new([(uri, edits)].into_iter().collect()))
                        }
                        Some(Err(why)) => {
                            Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, why)
                        }
                        None => ok(id, None::<WorkspaceEdit>),
                    }
                }
                Err(resp) => *resp,
            },
            DocumentSymbolRequest::METHOD => match extract::<DocumentSymbolRequest>(req) {
                Ok((id, p)) => {
                    let r = self.look(&p.text_document.uri, |d, s| {
                        features::symbols(&s.file, &s.index, &d.text)
                    });
                    ok(id, r.map(DocumentSymbolResponse::Nested))
                }
                Err(resp) => *resp,
            },
            FoldingRangeRequest::METHOD => match extract::<FoldingRangeRequest>(req) {
                Ok((id, p)) => {
                    let r = self.look(&p.text_document.uri, |d, s| {
                        features::folding(&s.file, &d.text)
                    });
                    ok(id, r)
                }
                Err(resp) => *resp,
            },
            Completion::METHOD => match extract::<Completion>(req) {
                Ok((id, p)) => {
                    let at = p.text_document_position;
                    let r = self.look(&at.text_document.uri, |d, s| {
                        let names = match (&d.last_names, s.parsed) {
                            (Some(last), false) => last,
                            _ => &s.index,
                        };
                        features::complete(names, &d.text, at.position)
                    });
                    ok(id, r.map(CompletionResponse::Array))
                }
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

    /// Answers from a document as the checker sees it.
    fn look<T>(&mut self, uri: &Uri, f: impl FnOnce(&Doc, &Seen) -> T) -> Option<T> {
        let (uri, doc) = self.docs.get_mut(uri.as_str())?;
        doc.check(uri);
        let seen = doc.seen.as_ref()?;
        Some(f(doc, seen))
    }

    /// Checks every document changed since the last time and sends what was found, and what
    /// rhai says of the script each names.
    fn publish(&mut self, conn: &Connection) -> Result<(), LspError> {
        for key in std::mem::take(&mut self.dirty) {
            let Some((uri, doc)) = self.docs.get_mut(&key) else {
                continue;
            };
            doc.check(uri);
            let Some(seen) = &doc.seen else { continue };
            let mut out = vec![PublishDiagnosticsParams::new(
                uri.clone(),
                seen.diagnostics.clone(),
                Some(doc.version),
            )];
            if let Some((script, found)) = &seen.script {
                out.push(PublishDiagnosticsParams::new(
                    script.clone(),
                    found.clone(),
                    None,
                ));
            }
            for params in out {
                let n = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
                send(conn, Message::Notification(n))?;
            }
        }
        Ok(())
    }
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
