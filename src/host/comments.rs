//! Comments on files (control sessions only): anyone who may see a file may comment on it;
//! the comment reaches, live, every session that may see the file and asked for `comments`,
//! and is kept with the file (the disk store's metadata). Its author and the operator may
//! delete it. Refusals go to the asking session as `COMMENT_FAILED`.

use chrono::Utc;

use super::state::Shared;
use super::wire::printable;
use crate::protocol::{ClientId, FileId, HostLine, MAX_COMMENTS, PublicKey, comment_text};
use crate::storage::{ChangeError, Comment};

/// Who writes or deletes a comment: a joined participant.
pub(super) struct Author<'a> {
    /// Its session.
    pub session_id: u64,
    /// Its client id.
    pub client_id: ClientId,
    /// Its name.
    pub name: &'a str,
    /// Its key.
    pub key: PublicKey,
}

/// `COMMENT`: adds a comment to a file the author may see, and tells those who may see it.
pub(super) fn add(shared: &Shared, author: &Author, file_id: FileId, text: &str) {
    let text = match comment_text(text) {
        Ok(text) => text,
        Err(error) => return refuse(shared, author, file_id, error.to_string()),
    };
    let mut added = None;
    let result = shared.storage.change(file_id, |record| {
        if !shared.registry.may_see(record, Some(&author.key)) {
            return Err("File not found".to_owned());
        }
        if record.comments.len() >= MAX_COMMENTS {
            return Err(format!(
                "'{}' has {MAX_COMMENTS} comments, the most a file keeps: delete one first",
                record.name
            ));
        }
        let comment = Comment {
            id: record.last_comment + 1,
            author_id: author.client_id,
            author_name: author.name.to_owned(),
            author: author.key,
            at: Utc::now(),
            text: text.clone(),
        };
        let mut changed = record.clone();
        changed.last_comment = comment.id;
        changed.comments.push(comment.clone());
        added = Some(comment);
        Ok(changed)
    });
    match (result, added) {
        (Ok(record), Some(comment)) => {
            tracing::info!(
                "{} commented on '{}' (ID: {file_id})",
                printable(author.name),
                printable(&record.name)
            );
            shared.registry.announce_comment(&record, &comment);
        }
        (Ok(_), None) => {}
        (Err(error), _) => refuse(shared, author, file_id, reason(error)),
    }
}

/// `DELETE_COMMENT`: its author or the operator removes a comment; those who may see the file
/// hear `COMMENT_DELETED`.
pub(super) fn delete(shared: &Shared, author: &Author, file_id: FileId, comment_id: u64) {
    let operator = shared.registry.is_operator(&author.key);
    let result = shared.storage.change(file_id, |record| {
        if !shared.registry.may_see(record, Some(&author.key)) {
            return Err("File not found".to_owned());
        }
        let Some(comment) = record.comments.iter().find(|c| c.id == comment_id) else {
            return Err(format!(
                "Comment {comment_id} not found on '{}'",
                record.name
            ));
        };
        if comment.author != author.key && !operator {
            return Err(format!(
                "Only {} (who wrote it) or the host can delete comment {comment_id}",
                comment.author_name
            ));
        }
        let mut changed = record.clone();
        changed.comments.retain(|c| c.id != comment_id);
        Ok(changed)
    });
    match result {
        Ok(record) => shared
            .registry
            .announce_comment_deleted(&record, comment_id),
        Err(error) => refuse(shared, author, file_id, reason(error)),
    }
}

/// Why a change was refused, in words for the author.
fn reason(error: ChangeError) -> String {
    match error {
        ChangeError::NotFound => "File not found".to_owned(),
        ChangeError::Refused(reason) => reason,
        ChangeError::Storage(error) => {
            tracing::error!("Could not keep a comment: {error}");
            error.to_string()
        }
    }
}

/// Tells the author's session why its comment (or its deletion) was refused.
fn refuse(shared: &Shared, author: &Author, file_id: FileId, reason: String) {
    let line = HostLine::CommentFailed { file_id, reason };
    shared.registry.send_to(author.session_id, &line.encode());
}
