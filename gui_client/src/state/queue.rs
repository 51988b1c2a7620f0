//! The transfer queue kept across log-outs and restarts: which transfers
//! of a server and user had not finished ([`SavedTransfer`]), stored in the
//! app's settings per server and user ([`SavedQueue`]), and the offer to
//! continue them at the next login ([`ResumeOffer`]).
//!
//! Only what names a transfer is kept here. What lets it continue where
//! it stopped is the client library's: a download's `.part` and sidecar
//! beside its target, an upload's state file in the state folder. Never a
//! password. No drawing (`panels::resume`), no threads (the app's `queue`
//! module starts them again).

use std::path::PathBuf;

use ferry_proto::protocol::ConflictPolicy;
use serde::{Deserialize, Serialize};

use crate::format::human_size;
use crate::state::transfers::{Direction, Transfer, TransferState, Transfers};

/// Which way a saved transfer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedDirection {
    /// Local file to server.
    Upload,
    /// Server to local file.
    Download,
}

/// What a saved transfer does with a name taken on the other side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedPolicy {
    /// Ask (a file upload: the server refuses, the app asks; a folder:
    /// asked when it is there).
    #[default]
    Ask,
    /// Overwrite, keeping the history.
    Overwrite,
    /// Keep both under a new name.
    Rename,
    /// A folder past its question, or that needed none: its files the
    /// other side has with other content are left as they are.
    Skip,
}

impl SavedPolicy {
    fn of(row: &Transfer) -> SavedPolicy {
        match row.policy {
            ConflictPolicy::Overwrite => SavedPolicy::Overwrite,
            ConflictPolicy::Rename => SavedPolicy::Rename,
            ConflictPolicy::Fail if row.folder && row.state != TransferState::WaitingForChoice => {
                SavedPolicy::Skip
            }
            ConflictPolicy::Fail => SavedPolicy::Ask,
        }
    }

    /// The policy to transfer with.
    pub fn policy(self) -> ConflictPolicy {
        match self {
            SavedPolicy::Ask | SavedPolicy::Skip => ConflictPolicy::Fail,
            SavedPolicy::Overwrite => ConflictPolicy::Overwrite,
            SavedPolicy::Rename => ConflictPolicy::Rename,
        }
    }
}

/// One transfer that had not finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedTransfer {
    /// Upload or download.
    pub direction: SavedDirection,
    /// The name on the server.
    pub name: String,
    /// The local file: the source of an upload, the target of a download.
    pub local: PathBuf,
    /// Whether it moves a whole folder.
    pub folder: bool,
    /// The version a download fetches (`None`: the current one).
    pub version: Option<u32>,
    /// What an upload does when its name is taken.
    pub policy: SavedPolicy,
    /// The other servers a download also fetched from.
    pub mirrors: Vec<String>,
    /// Bytes moved when it was saved, and in all (0: not known yet).
    pub done: u64,
    /// Bytes in all.
    pub total: u64,
}

impl Default for SavedTransfer {
    fn default() -> Self {
        SavedTransfer {
            direction: SavedDirection::Download,
            name: String::new(),
            local: PathBuf::new(),
            folder: false,
            version: None,
            policy: SavedPolicy::Ask,
            mirrors: Vec::new(),
            done: 0,
            total: 0,
        }
    }
}

impl SavedTransfer {
    /// The row as it is to be kept, if it had not finished.
    pub fn of(row: &Transfer) -> Option<SavedTransfer> {
        if row.state.is_finished() {
            return None;
        }
        let direction = match row.direction {
            Direction::Upload => SavedDirection::Upload,
            Direction::Download => SavedDirection::Download,
        };
        Some(SavedTransfer {
            direction,
            name: row.name.clone(),
            local: row.local.clone(),
            folder: row.folder,
            version: row.version,
            policy: SavedPolicy::of(row),
            mirrors: row.mirror_addrs.clone(),
            done: row.done,
            total: row.total,
        })
    }

    /// One line for the offer: which way, the name, the local file and how
    /// far it got.
    pub fn line(&self) -> String {
        let (arrow, way) = match self.direction {
            SavedDirection::Upload => ("⬆", "from"),
            SavedDirection::Download => ("⬇", "to"),
        };
        let version = self.version.map(|v| format!(" (v{v})")).unwrap_or_default();
        let folder = if self.folder { "folder " } else { "" };
        let progress = if self.total > 0 {
            format!(
                ", {} of {}",
                human_size(self.done.min(self.total)),
                human_size(self.total)
            )
        } else {
            String::new()
        };
        format!(
            "{arrow} {folder}{}{version} {way} {}{progress}",
            self.name,
            self.local.display()
        )
    }
}

/// The unfinished transfers of one server and user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedQueue {
    /// `host:port`.
    pub addr: String,
    /// The server's certificate fingerprint (`None`: plaintext), so that
    /// the same server reached at another address is offered its queue.
    pub fingerprint: Option<String>,
    /// The user name.
    pub user: String,
    /// Oldest first.
    pub transfers: Vec<SavedTransfer>,
}

/// Whose queue: a user on a server, known by the address typed and, over
/// TLS, by its certificate's fingerprint.
#[derive(Clone, Copy, Debug)]
pub struct QueueOwner<'a> {
    /// `host:port`.
    pub addr: &'a str,
    /// The server's fingerprint; `None` in plaintext.
    pub fingerprint: Option<&'a str>,
    /// The user name.
    pub user: &'a str,
}

impl QueueOwner<'_> {
    /// Whether `queue` is this user's on this server: the same user at the
    /// same address, or at a server with the same fingerprint.
    fn owns(&self, queue: &SavedQueue) -> bool {
        let same_server = queue.addr == self.addr
            || (self.fingerprint.is_some() && queue.fingerprint.as_deref() == self.fingerprint);
        queue.user == self.user && same_server
    }
}

/// The unfinished transfers of `transfers`, oldest first.
pub fn unfinished(transfers: &Transfers) -> Vec<SavedTransfer> {
    transfers
        .rows
        .iter()
        .filter_map(SavedTransfer::of)
        .collect()
}

/// Keeps `transfers` as `owner`'s queue, in place of any it had (none
/// left: forgets it).
pub fn store(queues: &mut Vec<SavedQueue>, owner: QueueOwner<'_>, transfers: Vec<SavedTransfer>) {
    queues.retain(|q| !owner.owns(q));
    if !transfers.is_empty() {
        queues.push(SavedQueue {
            addr: owner.addr.to_owned(),
            fingerprint: owner.fingerprint.map(str::to_owned),
            user: owner.user.to_owned(),
            transfers,
        });
    }
}

/// `owner`'s kept queue, if it holds any transfer.
pub fn find<'a>(queues: &'a [SavedQueue], owner: QueueOwner<'_>) -> Option<&'a SavedQueue> {
    queues
        .iter()
        .find(|q| owner.owns(q) && !q.transfers.is_empty())
}

/// The question at login: continue these, or discard them?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeOffer {
    /// What is offered.
    pub queue: SavedQueue,
}

impl ResumeOffer {
    /// The dialog's title.
    pub fn title(&self) -> String {
        let n = self.queue.transfers.len();
        format!(
            "Continue {n} unfinished transfer{}?",
            if n == 1 { "" } else { "s" }
        )
    }

    /// The dialog's text above the list.
    pub fn text(&self) -> String {
        format!(
            "When you last used {} as {}, these had not finished. Continue picks each up \
             where it stopped; Discard forgets them and deletes their partial downloads.",
            self.queue.addr, self.queue.user
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::TransferUpdate;

    #[test]
    fn only_unfinished_transfers_are_kept_per_server_and_user() {
        let mut t = Transfers::default();
        let up = t.add_upload("/tmp/a.txt".into(), "a.txt", 1);
        let down = t.add_download("b.bin", Some(3), "/tmp/b.bin".into());
        let done = t.add_download("c.bin", None, "/tmp/c.bin".into());
        t.get_mut(up).unwrap().policy = ConflictPolicy::Rename;
        t.apply(down, TransferUpdate::Paused);
        t.finish(done, TransferState::Done);
        let kept = unfinished(&t);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].direction, SavedDirection::Upload);
        assert_eq!(kept[0].policy.policy(), ConflictPolicy::Rename);
        assert_eq!(kept[1].version, Some(3));
        assert_eq!(kept[1].line(), "⬇ b.bin (v3) to /tmp/b.bin");

        let owner = |addr, user| QueueOwner {
            addr,
            fingerprint: None,
            user,
        };
        let mut queues = Vec::new();
        store(&mut queues, owner("h:1", "ann"), kept.clone());
        store(&mut queues, owner("h:1", "bob"), kept[..1].to_vec());
        assert_eq!(find(&queues, owner("h:1", "ann")).unwrap().transfers, kept);
        assert_eq!(
            find(&queues, owner("h:1", "bob")).unwrap().transfers.len(),
            1
        );
        assert!(find(&queues, owner("h:2", "ann")).is_none());
        store(&mut queues, owner("h:1", "ann"), Vec::new());
        assert!(
            find(&queues, owner("h:1", "ann")).is_none(),
            "nothing left: forgotten"
        );
        assert_eq!(queues.len(), 1);
    }

    #[test]
    fn a_queue_follows_its_server_to_another_address_by_its_fingerprint() {
        let kept = vec![SavedTransfer {
            name: "a.txt".into(),
            ..SavedTransfer::default()
        }];
        let at = |addr, fingerprint| QueueOwner {
            addr,
            fingerprint,
            user: "ann",
        };
        let mut queues = Vec::new();
        store(
            &mut queues,
            at("fileserver:7878", Some("SHA256:aa")),
            kept.clone(),
        );
        let found = |owner| find(&queues, owner).map(|q| q.transfers.clone());
        assert_eq!(
            found(at("10.0.0.5:7878", Some("SHA256:aa"))),
            Some(kept.clone())
        );
        assert_eq!(found(at("10.0.0.5:7878", Some("SHA256:bb"))), None);
        assert_eq!(
            found(at("10.0.0.5:7878", None)),
            None,
            "plaintext: by address"
        );
        assert_eq!(found(at("fileserver:7878", None)), Some(kept.clone()));
        // Kept again from the other address: one queue, not two.
        store(&mut queues, at("10.0.0.5:7878", Some("SHA256:aa")), kept);
        assert_eq!(queues.len(), 1);
        assert_eq!(queues[0].addr, "10.0.0.5:7878");
    }

    #[test]
    fn a_folder_asks_again_only_if_its_question_was_waiting() {
        let mut t = Transfers::default();
        t.add_folder(Direction::Download, "a", "/tmp/a".into(), 1);
        let waiting = t.add_folder(Direction::Upload, "b", "/tmp/b".into(), 1);
        let chosen = t.add_folder(Direction::Download, "c", "/tmp/c".into(), 1);
        t.get_mut(waiting).unwrap().state = TransferState::WaitingForChoice;
        t.get_mut(chosen).unwrap().policy = ConflictPolicy::Overwrite;
        t.add_upload("/tmp/d.txt".into(), "d.txt", 1);
        let policies: Vec<SavedPolicy> = unfinished(&t).iter().map(|s| s.policy).collect();
        assert_eq!(
            policies,
            [
                SavedPolicy::Skip,
                SavedPolicy::Ask,
                SavedPolicy::Overwrite,
                SavedPolicy::Ask
            ]
        );
        assert_eq!(SavedPolicy::Skip.policy(), ConflictPolicy::Fail);
    }

    #[test]
    fn the_offer_says_what_continue_and_discard_do() {
        let offer = ResumeOffer {
            queue: SavedQueue {
                addr: "h:1".into(),
                fingerprint: None,
                user: "ann".into(),
                transfers: vec![SavedTransfer {
                    direction: SavedDirection::Upload,
                    name: "a.txt".into(),
                    local: "/tmp/a.txt".into(),
                    done: 1 << 20,
                    total: 4 << 20,
                    ..SavedTransfer::default()
                }],
            },
        };
        assert_eq!(offer.title(), "Continue 1 unfinished transfer?");
        assert!(offer.text().contains("h:1 as ann"));
        assert_eq!(
            offer.queue.transfers[0].line(),
            "⬆ a.txt from /tmp/a.txt, 1.0 MiB of 4.0 MiB"
        );
    }
}
