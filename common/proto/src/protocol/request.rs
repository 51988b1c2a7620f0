//! Request lines and upload-body lines: parse and render.

use super::*;

impl Request {
    /// Parses one request line (without its line terminator).
    pub fn parse(line: &str) -> Result<Request, ProtocolError> {
        let (verb, rest) = split_verb(line)?;
        let verb_upper = verb.to_ascii_uppercase();
        let parsed = Self::parse_verb(&verb_upper, rest);
        if SECRET_VERBS.contains(&verb_upper.as_str()) {
            parsed.map_err(ProtocolError::concealed)
        } else {
            parsed
        }
    }

    /// Parses the arguments `rest` of a request with the (uppercased) verb.
    fn parse_verb(verb: &str, rest: &str) -> Result<Request, ProtocolError> {
        let request = match verb {
            "LOGIN" => {
                let mut a = Args::new("LOGIN", LOGIN_USAGE, rest);
                let user = a.word("user")?;
                let password = Secret(a.word("password")?);
                a.finish()?;
                Request::Login { user, password }
            }
            "LIST" => {
                Args::new("LIST", "LIST", rest).finish()?;
                Request::List
            }
            "STAT" => {
                let mut a = Args::new("STAT", "STAT <name> [version=N]", rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version] = a.numeric_options(["version"])?;
                Request::Stat {
                    name,
                    version: a.small("version", version)?,
                }
            }
            "HISTORY" => {
                let mut a = Args::new("HISTORY", "HISTORY <name>", rest);
                let name = UncheckedName::from(a.word("name")?);
                a.finish()?;
                Request::History { name }
            }
            "DOWNLOAD" => {
                let usage = "DOWNLOAD <name> [version=N] [offset=N] [length=N]";
                let mut a = Args::new("DOWNLOAD", usage, rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version, offset, length] =
                    a.numeric_options(["version", "offset", "length"])?;
                Request::Download {
                    name,
                    version: a.small("version", version)?,
                    offset: offset.unwrap_or(0),
                    length,
                }
            }
            "UPLOAD" => {
                let mut a = Args::new(
                    "UPLOAD",
                    "UPLOAD <name> <size> <overwrite|rename|fail> [resume=<upload-id>], then the body",
                    rest,
                );
                let name = UncheckedName::from(a.word("name")?);
                let size = a.number("size")?;
                let policy = a.parsed("policy", "overwrite, rename or fail")?;
                let [resume] = a.options(["resume"])?;
                let resume = resume
                    .map(|raw| {
                        decode_word(raw)
                            .ok_or_else(|| a.invalid("resume", raw, "percent-encoded UTF-8"))
                    })
                    .transpose()?;
                Request::Upload {
                    name,
                    size,
                    policy,
                    resume,
                }
            }
            "CHUNKS" => {
                let mut a = Args::new("CHUNKS", "CHUNKS <name> [version=N]", rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version] = a.numeric_options(["version"])?;
                Request::Chunks {
                    name,
                    version: a.small("version", version)?,
                }
            }
            "DELETE" => {
                let mut a = Args::new("DELETE", "DELETE <name> [version=N]", rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version] = a.numeric_options(["version"])?;
                Request::Delete {
                    name,
                    version: a.small("version", version)?,
                }
            }
            "LOGS" => {
                let mut a = Args::new("LOGS", "LOGS [lines=N]", rest);
                let [lines] = a.numeric_options(["lines"])?;
                let lines = a.small("lines", lines)?.unwrap_or(DEFAULT_LOG_LINES);
                Request::Logs { lines }
            }
            "USERS" => {
                Args::new("USERS", "USERS", rest).finish()?;
                Request::Users
            }
            "USERADD" => {
                let mut a = Args::new("USERADD", USERADD_USAGE, rest);
                let user = a.word("user")?;
                let role = a.parsed("role", "admin or user")?;
                let password = Secret(a.word("password")?);
                a.finish()?;
                Request::UserAdd {
                    user,
                    role,
                    password,
                }
            }
            "USERDEL" => {
                let mut a = Args::new("USERDEL", "USERDEL <user>", rest);
                let user = a.word("user")?;
                a.finish()?;
                Request::UserDel { user }
            }
            "PASSWD" => {
                let mut a = Args::new("PASSWD", PASSWD_USAGE, rest);
                let user = a.word("user")?;
                let password = Secret(a.word("password")?);
                a.finish()?;
                Request::Passwd { user, password }
            }
            "ROLE" => {
                let mut a = Args::new("ROLE", "ROLE <user> <admin|user>", rest);
                let user = a.word("user")?;
                let role = a.parsed("role", "admin or user")?;
                a.finish()?;
                Request::SetRole { user, role }
            }
            "LS" => {
                let mut a = Args::new("LS", "LS [folder=<path>] [recursive=yes|no]", rest);
                let [folder, recursive] = a.options(["folder", "recursive"])?;
                let folder = a.word_option("folder", folder)?.filter(|f| !f.is_empty());
                Request::Ls {
                    folder: folder.map(UncheckedName::from),
                    recursive: a.flag("recursive", recursive)?,
                }
            }
            "MKDIR" => {
                let mut a = Args::new("MKDIR", "MKDIR <path>", rest);
                let path = UncheckedName::from(a.word("path")?);
                a.finish()?;
                Request::Mkdir { path }
            }
            "RMDIR" => {
                let mut a = Args::new("RMDIR", "RMDIR <path> [recursive=yes|no]", rest);
                let path = UncheckedName::from(a.word("path")?);
                let [recursive] = a.options(["recursive"])?;
                Request::Rmdir {
                    path,
                    recursive: a.flag("recursive", recursive)?,
                }
            }
            "MOVE" => {
                let mut a = Args::new("MOVE", "MOVE <from> <to>", rest);
                let from = UncheckedName::from(a.word("from")?);
                let to = UncheckedName::from(a.word("to")?);
                a.finish()?;
                Request::Move { from, to }
            }
            "PING" => {
                Args::new("PING", "PING", rest).finish()?;
                Request::Ping
            }
            "QUIT" => {
                Args::new("QUIT", "QUIT", rest).finish()?;
                Request::Quit
            }
            _ => return Err(ProtocolError::UnknownVerb(shown_verb(verb))),
        };
        Ok(request)
    }

    /// The verb, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Login { .. } => "LOGIN",
            Request::List => "LIST",
            Request::Stat { .. } => "STAT",
            Request::History { .. } => "HISTORY",
            Request::Download { .. } => "DOWNLOAD",
            Request::Upload { .. } => "UPLOAD",
            Request::Chunks { .. } => "CHUNKS",
            Request::Delete { .. } => "DELETE",
            Request::Ls { .. } => "LS",
            Request::Mkdir { .. } => "MKDIR",
            Request::Rmdir { .. } => "RMDIR",
            Request::Move { .. } => "MOVE",
            Request::Logs { .. } => "LOGS",
            Request::Users => "USERS",
            Request::UserAdd { .. } => "USERADD",
            Request::UserDel { .. } => "USERDEL",
            Request::Passwd { .. } => "PASSWD",
            Request::SetRole { .. } => "ROLE",
            Request::Ping => "PING",
            Request::Quit => "QUIT",
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = encode_word;
        match self {
            Request::Login { user, password } => write!(f, "LOGIN {} {}", w(user), w(&password.0)),
            Request::List => f.write_str("LIST"),
            Request::Stat { name, version } => {
                write!(f, "STAT {}", w(name.as_str()))?;
                write_option(f, "version", *version)
            }
            Request::History { name } => write!(f, "HISTORY {}", w(name.as_str())),
            Request::Download {
                name,
                version,
                offset,
                length,
            } => {
                write!(f, "DOWNLOAD {}", w(name.as_str()))?;
                write_option(f, "version", *version)?;
                write_option(f, "offset", Some(*offset).filter(|o| *o != 0))?;
                write_option(f, "length", *length)
            }
            Request::Upload {
                name,
                size,
                policy,
                resume,
            } => {
                write!(f, "UPLOAD {} {size} {policy}", w(name.as_str()))?;
                write_option(f, "resume", resume.as_deref().map(w))
            }
            Request::Chunks { name, version } => {
                write!(f, "CHUNKS {}", w(name.as_str()))?;
                write_option(f, "version", *version)
            }
            Request::Delete { name, version } => {
                write!(f, "DELETE {}", w(name.as_str()))?;
                write_option(f, "version", *version)
            }
            Request::Ls { folder, recursive } => {
                f.write_str("LS")?;
                write_option(f, "folder", folder.as_ref().map(|p| w(p.as_str())))?;
                write_option(f, "recursive", recursive.then_some("yes"))
            }
            Request::Mkdir { path } => write!(f, "MKDIR {}", w(path.as_str())),
            Request::Rmdir { path, recursive } => {
                write!(f, "RMDIR {}", w(path.as_str()))?;
                write_option(f, "recursive", recursive.then_some("yes"))
            }
            Request::Move { from, to } => {
                write!(f, "MOVE {} {}", w(from.as_str()), w(to.as_str()))
            }
            Request::Logs { lines } => write!(f, "LOGS lines={lines}"),
            Request::Users => f.write_str("USERS"),
            Request::UserAdd {
                user,
                role,
                password,
            } => write!(f, "USERADD {} {role} {}", w(user), w(&password.0)),
            Request::UserDel { user } => write!(f, "USERDEL {}", w(user)),
            Request::Passwd { user, password } => {
                write!(f, "PASSWD {} {}", w(user), w(&password.0))
            }
            Request::SetRole { user, role } => write!(f, "ROLE {} {role}", w(user)),
            Request::Ping => f.write_str("PING"),
            Request::Quit => f.write_str("QUIT"),
        }
    }
}

fn write_option<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    key: &str,
    value: Option<T>,
) -> fmt::Result {
    match value {
        Some(v) => write!(f, " {key}={v}"),
        None => Ok(()),
    }
}

impl UploadFrame {
    /// Parses one line of an upload body.
    pub fn parse(line: &str) -> Result<UploadFrame, ProtocolError> {
        let (verb, rest) = split_verb(line)?;
        match verb {
            "DATA" => Ok(UploadFrame::Data(frame_length(rest)?)),
            "DONE" => {
                let mut a = Args::new("DONE", "DONE <md5>", rest);
                let md5 = a.parsed("md5", "32 hexadecimal digits")?;
                a.finish()?;
                Ok(UploadFrame::Done(md5))
            }
            "ABORT" => {
                Args::new("ABORT", "ABORT", rest).finish()?;
                Ok(UploadFrame::Abort)
            }
            other => Err(ProtocolError::Invalid {
                verb: "UPLOAD",
                field: "body line",
                text: other.chars().take(40).collect(),
                expected: "DATA <n>, DONE <md5> or ABORT",
            }),
        }
    }
}

impl fmt::Display for UploadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadFrame::Data(n) => write!(f, "DATA {n}"),
            UploadFrame::Done(md5) => write!(f, "DONE {md5}"),
            UploadFrame::Abort => f.write_str("ABORT"),
        }
    }
}
