//! Comments under a file's row: "Comment" (or "2 comments") opens them, with who wrote each,
//! a × on those this participant may delete (its own; any, for the operator), and a box to
//! write one. Comments arrive live through the session, so the list is always current.

use iced::widget::{button, column, container, row, text, text_input};
use iced::{Alignment, Element, Length};

use super::toasts::Kind;
use super::{Connection, Message, Participant};
use crate::gui::theme::{self, gap, text_size};
use crate::gui::widgets::{ButtonShape, action_button, muted};
use crate::participant::FileEntry;
use crate::protocol::{CommentInfo, FileId, MAX_COMMENT_CHARS, Role, comment_text};

/// The file whose comments are open under its row, and the comment being written.
#[derive(Debug, Clone, Default)]
pub struct CommentsPanel {
    open: Option<FileId>,
    draft: String,
}

impl CommentsPanel {
    /// Whether `file`'s comments are open.
    pub fn is_open(&self, file: FileId) -> bool {
        self.open == Some(file)
    }
}

impl Participant {
    /// Handles the messages about comments.
    pub(super) fn on_comments(&mut self, message: Message) {
        match message {
            Message::CommentsClicked(file_id) => {
                if self.comments.is_open(file_id) {
                    self.comments.open = None;
                } else {
                    self.comments = CommentsPanel {
                        open: Some(file_id),
                        draft: String::new(),
                    };
                }
            }
            Message::CommentDraft(draft) => self.comments.draft = draft,
            Message::CommentSend => self.send_comment(),
            Message::CommentDelete(file_id, comment_id) => {
                self.live.delete_comment(file_id, comment_id);
            }
            _ => {}
        }
    }

    /// Sends the comment written, once checked as the host will check it.
    fn send_comment(&mut self) {
        let Some(file_id) = self.comments.open else {
            return;
        };
        match comment_text(&self.comments.draft) {
            Ok(text) => {
                self.live.comment(file_id, text);
                self.comments.draft.clear();
            }
            Err(error) => self.toast(Kind::Error, error.to_string()),
        }
    }

    /// Whether this participant may delete `comment`: its own, or any as the operator.
    fn may_delete_comment(&self, comment: &CommentInfo) -> bool {
        match &self.connection {
            Connection::Connected {
                client_id, role, ..
            } => comment.author_id == *client_id || *role == Role::Operator,
            _ => false,
        }
    }

    /// Under the row of `file`, if its comments are open: each comment, then the box.
    pub(super) fn comments_panel(&self, file: &FileEntry) -> Option<Element<'_, Message>> {
        if !self.comments.is_open(file.id) {
            return None;
        }
        let file_id = file.id;
        let shown = file.details.comments.iter().map(|comment| {
            let line = row![
                text(format!("{}: {}", comment.author_name, comment.text))
                    .size(text_size::DETAIL)
                    .width(Length::Fill),
            ];
            let line = if self.may_delete_comment(comment) {
                line.push(
                    action_button("×", ButtonShape::COMPACT, theme::secondary_button)
                        .on_press(Message::CommentDelete(file_id, comment.comment_id)),
                )
            } else {
                line
            };
            line.spacing(gap::M).align_y(Alignment::Center).into()
        });
        let empty = file
            .details
            .comments
            .is_empty()
            .then(|| muted("No comments yet").size(text_size::DETAIL));
        let draft = text_input("Write a comment…", &self.comments.draft)
            .on_input(|draft| {
                Message::CommentDraft(draft.chars().take(MAX_COMMENT_CHARS).collect())
            })
            .on_submit(Message::CommentSend)
            .size(text_size::DETAIL)
            .padding([gap::XS, gap::M])
            .style(theme::input);
        let send = action_button("Send", ButtonShape::COMPACT, theme::primary_button)
            .on_press(Message::CommentSend);
        let body = column(shown)
            .push(empty)
            .push(row![draft, send].spacing(gap::M).align_y(Alignment::Center))
            .spacing(gap::XS);
        Some(
            container(body)
                .padding([gap::S, gap::XL])
                .width(Length::Fill)
                .style(theme::card)
                .into(),
        )
    }
}

/// The button on a row that opens its comments: "Comment", or "2 comments".
pub fn comments_button(file: &FileEntry, open: bool) -> Element<'static, Message> {
    let label = match (open, file.details.comments.len()) {
        (true, _) => "Hide comments".to_owned(),
        (false, 0) => "Comment".to_owned(),
        (false, 1) => "1 comment".to_owned(),
        (false, count) => format!("{count} comments"),
    };
    button(text(label).size(text_size::DETAIL))
        .padding([0.0, gap::S])
        .style(theme::chip(open))
        .on_press(Message::CommentsClicked(file.id))
        .into()
}
