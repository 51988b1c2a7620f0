//! Reply lines: parse and render.

use super::*;

impl Reply {
    /// Parses one line sent by a server.
    pub fn parse(line: &str) -> Result<Reply, ProtocolError> {
        let (verb, rest) = split_verb(line)?;
        let reply = match verb {
            "FERRY" => {
                let (version, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let version = parse_number(version).ok_or_else(|| ProtocolError::Invalid {
                    verb: "FERRY",
                    field: "version",
                    text: version.to_owned(),
                    expected: "a whole number",
                })?;
                Reply::Hello {
                    version,
                    text: text.to_owned(),
                }
            }
            "OK" => return parse_ok(rest),
            "ERR" => {
                let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
                let code = code.parse().map_err(|_| ProtocolError::Invalid {
                    verb: "ERR",
                    field: "code",
                    text: code.to_owned(),
                    expected: "an error code from docs/PROTOCOL.md",
                })?;
                Reply::Error {
                    code,
                    message: message.to_owned(),
                }
            }
            "FILE" => {
                let mut a = Args::new("FILE", "FILE <version fields> <versions>", rest);
                let current = version_fields(&mut a)?;
                let versions = a.number("versions")?;
                a.finish()?;
                Reply::File(FileEntry { current, versions })
            }
            "VERSION" => {
                let mut a = Args::new("VERSION", "VERSION <version fields>", rest);
                let info = version_fields(&mut a)?;
                a.finish()?;
                Reply::Version(info)
            }
            "DATA" => Reply::Data(frame_length(rest)?),
            "CHUNK" => {
                let mut a = Args::new("CHUNK", "CHUNK <index> <md5>", rest);
                let index = a.number("index")?;
                let md5 = a.parsed("md5", "32 hexadecimal digits")?;
                a.finish()?;
                Reply::Chunk { index, md5 }
            }
            "END" => {
                Args::new("END", "END", rest).finish()?;
                Reply::End
            }
            "FOLDER" => {
                let mut a = Args::new("FOLDER", "FOLDER <path> <created>", rest);
                let path = a.word("path")?;
                let created =
                    a.parsed("created", "an ISO-8601 UTC time like 2026-11-21T16:41:07Z")?;
                a.finish()?;
                Reply::Folder(FolderEntry { path, created })
            }
            "LINE" => Reply::LogLine(rest.to_owned()),
            "USER" => {
                let mut a = Args::new("USER", "USER <name> <role>", rest);
                let name = a.word("name")?;
                let role = a.parsed("role", "admin or user")?;
                a.finish()?;
                Reply::User { name, role }
            }
            other => return Err(ProtocolError::UnknownVerb(shown_verb(other))),
        };
        Ok(reply)
    }

    /// An error reply.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Reply {
        Reply::Error {
            code,
            message: message.into(),
        }
    }
}

fn parse_ok(rest: &str) -> Result<Reply, ProtocolError> {
    if rest.trim().is_empty() {
        return Ok(Reply::Ok);
    }
    let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let reply = match kind {
        "BYE" => {
            Args::new("OK BYE", "OK BYE", rest).finish()?;
            Reply::Bye
        }
        "LOGIN" => {
            let mut a = Args::new("OK LOGIN", "OK LOGIN <role>", rest);
            let role = a.parsed("role", "admin or user")?;
            a.finish()?;
            Reply::LoggedIn(role)
        }
        "LIST" | "HISTORY" | "LOGS" | "USERS" | "LS" => {
            let mut a = Args::new("OK", "OK <kind> <count>", rest);
            let count = a.number("count")?;
            a.finish()?;
            match kind {
                "LIST" => Reply::ListHeader(count),
                "HISTORY" => Reply::HistoryHeader(count),
                "LOGS" => Reply::LogsHeader(count),
                "LS" => Reply::LsHeader(count),
                _ => Reply::UsersHeader(count),
            }
        }
        "STAT" => {
            let mut a = Args::new("OK STAT", "OK STAT <version fields>", rest);
            let info = version_fields(&mut a)?;
            a.finish()?;
            Reply::Stat(info)
        }
        "DOWNLOAD" => {
            let mut a = Args::new(
                "OK DOWNLOAD",
                "OK DOWNLOAD <version> <size> <md5> <offset> <length>",
                rest,
            );
            let reply = Reply::Download {
                version: a.number("version")?,
                size: a.number("size")?,
                md5: a.parsed("md5", "32 hexadecimal digits")?,
                offset: a.number("offset")?,
                length: a.number("length")?,
            };
            a.finish()?;
            reply
        }
        "CHUNKS" => {
            let mut a = Args::new("OK CHUNKS", "OK CHUNKS <chunk-size> <count>", rest);
            let chunk_size = a.number("chunk size")?;
            let count = a.number("count")?;
            a.finish()?;
            Reply::ChunksHeader { chunk_size, count }
        }
        "READY" => {
            let mut a = Args::new("OK READY", "OK READY <upload-id> <offset>", rest);
            let upload_id = a.word("upload id")?;
            let offset = a.number("offset")?;
            a.finish()?;
            Reply::Ready { upload_id, offset }
        }
        "STORED" => {
            let mut a = Args::new("OK STORED", "OK STORED <name> <version> <size> <md5>", rest);
            let reply = Reply::Stored {
                name: a.word("name")?,
                version: a.number("version")?,
                size: a.number("size")?,
                md5: a.parsed("md5", "32 hexadecimal digits")?,
            };
            a.finish()?;
            reply
        }
        "DELETED" => {
            let mut a = Args::new("OK DELETED", "OK DELETED <name> <count>", rest);
            let name = a.word("name")?;
            let versions = a.number("count")?;
            a.finish()?;
            Reply::Deleted { name, versions }
        }
        "MKDIR" => {
            let mut a = Args::new("OK MKDIR", "OK MKDIR <path> <created>", rest);
            let path = a.word("path")?;
            let created = a.number("created")?;
            a.finish()?;
            Reply::Made { path, created }
        }
        "RMDIR" => {
            let mut a = Args::new(
                "OK RMDIR",
                "OK RMDIR <path> <folders> <files> <versions>",
                rest,
            );
            let reply = Reply::Removed {
                path: a.word("path")?,
                folders: a.number("folders")?,
                files: a.number("files")?,
                versions: a.number("versions")?,
            };
            a.finish()?;
            reply
        }
        "MOVED" => {
            let mut a = Args::new("OK MOVED", "OK MOVED <from> <to> <files> <folders>", rest);
            let reply = Reply::Moved {
                from: a.word("from")?,
                to: a.word("to")?,
                files: a.number("files")?,
                folders: a.number("folders")?,
            };
            a.finish()?;
            reply
        }
        other => {
            return Err(ProtocolError::UnknownVerb(shown_verb(other)));
        }
    };
    Ok(reply)
}

fn version_fields(a: &mut Args<'_>) -> Result<VersionInfo, ProtocolError> {
    Ok(VersionInfo {
        name: a.word("name")?,
        version: a.number("version")?,
        size: a.number("size")?,
        md5: a.parsed("md5", "32 hexadecimal digits")?,
        modified: a.parsed("modified", "an ISO-8601 UTC time like 2026-11-21T16:41:07Z")?,
        uploader: a.word("uploader")?,
    })
}

struct VersionFields<'a>(&'a VersionInfo);

impl fmt::Display for VersionFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{} {} {} {} {} {}",
            encode_word(&v.name),
            v.version,
            v.size,
            v.md5,
            v.modified,
            encode_word(&v.uploader)
        )
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = encode_word;
        match self {
            Reply::Hello { version, text } => write!(f, "FERRY {version} {}", line_text(text)),
            Reply::Ok => f.write_str("OK"),
            Reply::Bye => f.write_str("OK BYE"),
            Reply::LoggedIn(role) => write!(f, "OK LOGIN {role}"),
            Reply::ListHeader(n) => write!(f, "OK LIST {n}"),
            Reply::File(e) => write!(f, "FILE {} {}", VersionFields(&e.current), e.versions),
            Reply::Stat(v) => write!(f, "OK STAT {}", VersionFields(v)),
            Reply::HistoryHeader(n) => write!(f, "OK HISTORY {n}"),
            Reply::Version(v) => write!(f, "VERSION {}", VersionFields(v)),
            Reply::Download {
                version,
                size,
                md5,
                offset,
                length,
            } => write!(f, "OK DOWNLOAD {version} {size} {md5} {offset} {length}"),
            Reply::Data(n) => write!(f, "DATA {n}"),
            Reply::End => f.write_str("END"),
            Reply::Ready { upload_id, offset } => write!(f, "OK READY {} {offset}", w(upload_id)),
            Reply::ChunksHeader { chunk_size, count } => {
                write!(f, "OK CHUNKS {chunk_size} {count}")
            }
            Reply::Chunk { index, md5 } => write!(f, "CHUNK {index} {md5}"),
            Reply::Stored {
                name,
                version,
                size,
                md5,
            } => write!(f, "OK STORED {} {version} {size} {md5}", w(name)),
            Reply::Deleted { name, versions } => write!(f, "OK DELETED {} {versions}", w(name)),
            Reply::LsHeader(n) => write!(f, "OK LS {n}"),
            Reply::Folder(e) => write!(f, "FOLDER {} {}", w(&e.path), e.created),
            Reply::Made { path, created } => write!(f, "OK MKDIR {} {created}", w(path)),
            Reply::Removed {
                path,
                folders,
                files,
                versions,
            } => write!(f, "OK RMDIR {} {folders} {files} {versions}", w(path)),
            Reply::Moved {
                from,
                to,
                files,
                folders,
            } => write!(f, "OK MOVED {} {} {files} {folders}", w(from), w(to)),
            Reply::LogsHeader(n) => write!(f, "OK LOGS {n}"),
            Reply::LogLine(text) => write!(f, "LINE {}", line_text(text)),
            Reply::UsersHeader(n) => write!(f, "OK USERS {n}"),
            Reply::User { name, role } => write!(f, "USER {} {role}", w(name)),
            Reply::Error { code, message } => write!(f, "ERR {code} {}", line_text(message)),
        }
    }
}
