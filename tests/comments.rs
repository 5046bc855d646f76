//! Comments on files, against real hosts: live to every watcher who may see the file, listed
//! with it, kept by a disk store across a restart, deleted by their author or the operator
//! only, limited in length and count with clear errors, and as hidden as a restricted file.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lanshare::participant::{Error, Session, SessionEvent};
use lanshare::protocol::{CommentInfo, MAX_COMMENT_CHARS, MAX_COMMENTS};

const WAIT: Duration = Duration::from_secs(5);

/// The next comment `session` hears of.
fn heard_comment(session: &Session) -> anyhow::Result<CommentInfo> {
    let deadline = Instant::now() + WAIT;
    loop {
        match session.events().recv_deadline(deadline)? {
            SessionEvent::CommentAdded(comment) => return Ok(comment),
            SessionEvent::Closed(reason) => anyhow::bail!("session closed: {reason}"),
            _ => {}
        }
    }
}

/// Waits until `session` hears that comment `comment_id` on `file_id` was deleted.
fn heard_deleted(session: &Session, file_id: u64, comment_id: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        match session.events().recv_deadline(deadline)? {
            SessionEvent::CommentDeleted {
                file_id: id,
                comment_id: gone,
            } if id == file_id && gone == comment_id => return Ok(()),
            SessionEvent::Closed(reason) => anyhow::bail!("session closed: {reason}"),
            _ => {}
        }
    }
}

/// The texts of the comments `LIST` shows with `file_id`.
fn listed_comments(session: &Session, file_id: u64) -> anyhow::Result<Vec<String>> {
    let files = proven(session)?.list()?;
    let file = files
        .iter()
        .find(|file| file.id == file_id)
        .ok_or_else(|| anyhow::anyhow!("file {file_id} not listed"))?;
    Ok(file
        .details
        .comments
        .iter()
        .map(|c| c.text.clone())
        .collect())
}

#[test]
fn comments_reach_both_watchers_live_are_listed_and_deleted_by_their_author() -> TestResult {
    let (host, operator) = start_with_operator(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let (carol, _) = Person::new("Carol")?.join(address)?;
    let id = share(&alice, "slides.pdf", b"%PDF-1.7")?;

    let mine = bob.comment(id, "  Great slides,\nthanks!  ", WAIT)?;
    assert_eq!(mine.text, "Great slides, thanks!");
    assert_eq!(mine.comment_id, 1);
    for watcher in [&alice, &carol] {
        let heard = heard_comment(watcher)?;
        assert_eq!(
            (
                heard.file_id,
                heard.author_name.as_str(),
                heard.text.as_str()
            ),
            (id, "Bob", "Great slides, thanks!")
        );
    }
    carol.comment(id, "Agreed", WAIT)?;
    assert_eq!(
        listed_comments(&alice, id)?,
        ["Great slides, thanks!", "Agreed"]
    );
    // A new session's snapshot has them too.
    let (_, snapshot) = Person::new("Dan")?.join(address)?;
    assert_eq!(snapshot.files[0].details.comments.len(), 2);

    // Only the author (or the operator) deletes a comment.
    let refused = carol.delete_comment(id, 1, WAIT);
    assert!(
        matches!(&refused, Err(Error::Refused(reason))
            if reason == "Only Bob (who wrote it) or the host can delete comment 1"),
        "{refused:?}"
    );
    bob.delete_comment(id, 1, WAIT)?;
    heard_deleted(&alice, id, 1)?;
    let (host_session, _) = Session::join(address, "Host", &operator)?;
    host_session.delete_comment(id, 2, WAIT)?;
    assert!(listed_comments(&alice, id)?.is_empty());
    // Numbers are not reused.
    assert_eq!(bob.comment(id, "again", WAIT)?.comment_id, 3);
    let missing = bob.delete_comment(id, 1, WAIT);
    assert!(
        matches!(&missing, Err(Error::Refused(reason))
            if reason == "Comment 1 not found on 'slides.pdf'"),
        "{missing:?}"
    );
    Ok(())
}

#[test]
fn comments_have_limits_with_clear_errors() -> TestResult {
    let host = start(config())?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let id = share(&alice, "a.txt", b"a")?;
    let empty = alice.comment(id, "  \n ", WAIT);
    assert!(
        matches!(&empty, Err(Error::Refused(reason)) if reason == "A comment cannot be empty"),
        "{empty:?}"
    );
    let long = "x".repeat(MAX_COMMENT_CHARS + 1);
    let refused = alice.comment(id, &long, WAIT);
    assert!(
        matches!(&refused, Err(Error::Refused(reason))
            if reason == "A comment may be at most 1000 characters (1001 given)"),
        "{refused:?}"
    );
    assert!(matches!(
        alice.comment(999, "hello", WAIT),
        Err(Error::NotFound(999))
    ));
    for n in 0..MAX_COMMENTS {
        alice.comment(id, &format!("comment {n}"), WAIT)?;
    }
    let full = alice.comment(id, "one more", WAIT);
    assert!(
        matches!(&full, Err(Error::Refused(reason))
            if reason == "'a.txt' has 100 comments, the most a file keeps: delete one first"),
        "{full:?}"
    );
    Ok(())
}

#[test]
fn a_disk_store_keeps_comments_across_a_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let alice = Person::new("Alice")?;
    let id = {
        let host = start(disk_config(dir.path()))?;
        let (session, _) = alice.join(host.local_addr())?;
        let id = share(&session, "notes.md", b"# notes")?;
        session.comment(id, "first", WAIT)?;
        session.comment(id, "second", WAIT)?;
        session.delete_comment(id, 1, WAIT)?;
        drop(session);
        host.shutdown();
        id
    };
    let host = start(disk_config(dir.path()))?;
    let (session, snapshot) = alice.join(host.local_addr())?;
    let kept: Vec<(u64, String)> = snapshot.files[0]
        .details
        .comments
        .iter()
        .map(|c| (c.comment_id, c.text.clone()))
        .collect();
    assert_eq!(kept, [(2, "second".to_owned())]);
    assert_eq!(session.comment(id, "third", WAIT)?.comment_id, 3);
    Ok(())
}

#[test]
fn comments_on_a_restricted_file_stay_among_those_who_may_see_it() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let (eve, _) = Person::new("Eve")?.join(address)?;
    let id = share_only(&alice, "secret.txt", b"s", &["Bob"])?.file_id;
    assert!(matches!(
        eve.comment(id, "let me in", WAIT),
        Err(Error::NotFound(_))
    ));
    bob.comment(id, "for us only", WAIT)?;
    assert_eq!(heard_comment(&alice)?.text, "for us only");
    // Eve hears nothing of it: the next comment she hears is one on a file she may see.
    let public = share(&alice, "public.txt", b"p")?;
    alice.comment(public, "for all", WAIT)?;
    let heard = heard_comment(&eve)?;
    assert_eq!((heard.file_id, heard.text.as_str()), (public, "for all"));
    Ok(())
}

#[test]
fn the_command_line_comments_lists_and_deletes() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let cli = Cli::in_folder(dir.path(), "alice", host.local_addr());
    std::fs::write(dir.path().join("a.txt"), b"a")?;
    let sent = cli.run_in(dir.path(), &["send", "--user", "Alice", "a.txt"])?;
    assert!(sent.status.success(), "{}", stderr(&sent));
    let said = cli.run(&["comment", "1", "Looks good"])?;
    assert_eq!(
        stdout(&said),
        "Commented on #1 (comment 1)\n",
        "{}",
        stderr(&said)
    );
    let lines = stdout(&cli.run(&["comments", "1"])?);
    assert!(
        lines.starts_with("#1 [") && lines.ends_with("] Alice: Looks good\n"),
        "{lines}"
    );
    let json: Vec<serde_json::Value> = serde_json::from_str(&stdout(&cli.run(&["ls", "--json"])?))?;
    assert_eq!(json[0]["comments"][0]["text"], "Looks good");
    assert_eq!(json[0]["comments"][0]["author"], "Alice");
    let deleted = cli.run(&["comment", "1", "--delete", "1"])?;
    assert_eq!(stdout(&deleted), "Deleted comment 1 on #1\n");
    assert_eq!(
        stdout(&cli.run(&["comments", "1"])?),
        "No comments on #1 yet.\n"
    );
    let too_long = cli.run(&["comment", "1", &"y".repeat(1001)])?;
    assert!(!too_long.status.success());
    assert!(
        stderr(&too_long).contains("A comment may be at most 1000 characters (1001 given)"),
        "{}",
        stderr(&too_long)
    );
    Ok(())
}
