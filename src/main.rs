//! The `kalends` binary: parses the command line and hands over to the library.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kalends::config::Config;
use kalends::service::scheduling::inbound::Receipt;
use kalends::service::{app_passwords, shares, users};
use kalends::store::Access;

#[derive(Parser)]
#[command(name = "kalends", version, about = "A CalDAV/iCalendar server")]
struct Cli {
    /// TOML configuration file (KALENDS_* environment variables override it).
    #[arg(long, global = true, env = "KALENDS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Email invitations and replies (iMIP, RFC 6047).
    #[command(subcommand)]
    Imip(ImipCommand),
    /// Share calendars between users (accepted at once; they appear in the sharee's home).
    #[command(subcommand)]
    Share(ShareCommand),
    /// Secret feed links (webcal) to a calendar, for people who never log in.
    #[command(subcommand)]
    Feed(FeedCommand),
    /// Reminder emails: whether a user's DISPLAY and AUDIO alarms are also emailed to them
    /// (EMAIL alarms always are).
    #[command(subcommand)]
    Reminders(ReminderCommand),
    /// Import FILE.ics into USER's CALENDAR (its URL segment, e.g. `calendar`): one object per
    /// UID, added, updated in place, unchanged, or skipped with the reason. Sends no
    /// invitations (a restore). Exit status 0 when nothing was skipped, 1 otherwise (2: bad
    /// configuration).
    Import {
        user: String,
        calendar: String,
        file: PathBuf,
        /// No progress bar (there is none either when standard error is not a terminal).
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum ReminderCommand {
    /// Email USER their DISPLAY and AUDIO alarms (the default).
    On { user: String },
    /// Stop emailing USER their DISPLAY and AUDIO alarms.
    Off { user: String },
    /// Show USER's setting.
    Status { user: String },
}

#[derive(Subcommand)]
enum ShareCommand {
    /// Share USER's CALENDAR (its URL segment, e.g. `calendar`) with SHAREE, or change the access
    /// of an existing share.
    Add {
        user: String,
        calendar: String,
        sharee: String,
        #[arg(long, value_enum)]
        access: AccessArg,
    },
    /// List the shares of USER's calendars and the calendars shared with USER.
    List { user: String },
    /// Stop sharing USER's CALENDAR with SHAREE.
    Remove { user: String, calendar: String, sharee: String },
}

/// `--access`: what the sharee may do.
#[derive(Clone, Copy, ValueEnum)]
enum AccessArg {
    Read,
    ReadWrite,
    FreeBusy,
}

impl From<AccessArg> for Access {
    fn from(a: AccessArg) -> Access {
        match a {
            AccessArg::Read => Access::Read,
            AccessArg::ReadWrite => Access::ReadWrite,
            AccessArg::FreeBusy => Access::FreeBusy,
        }
    }
}

#[derive(Subcommand)]
enum FeedCommand {
    /// Make a link to USER's CALENDAR (its URL segment: `calendar` for /calendars/alice/calendar/);
    /// prints its id and, this once, its URL.
    Create {
        user: String,
        calendar: String,
        /// full: the events; masked: times only, titled "Busy"; busy: one event per busy period.
        #[arg(long, default_value = "full", value_parser = ["full", "masked", "busy"])]
        mode: String,
        #[arg(long, default_value = "")]
        label: String,
        /// The last day the link works (YYYY-MM-DD, UTC).
        #[arg(long)]
        expires: Option<chrono::NaiveDate>,
        /// Include alarms (full mode).
        #[arg(long)]
        alarms: bool,
        /// Include the organizer and attendees (full mode).
        #[arg(long)]
        attendees: bool,
    },
    /// List USER's links (never their URLs: only their hashes are kept).
    List { user: String },
    /// Delete a link: it answers 404 from now on.
    Revoke { id: i64 },
    /// Give a link a new URL; the old one keeps working for the grace period.
    Rotate {
        id: i64,
        /// Hours the old URL keeps working.
        #[arg(long, default_value_t = 24)]
        grace_hours: i64,
    },
}

#[derive(Subcommand)]
enum ImipCommand {
    /// Make a new key for signing RSVP links; links signed with the old one keep working for
    /// 60 days (rotate after a suspected leak of the database or of many links).
    RotateRsvpKey,
    /// Read one RFC 5322 message on standard input (an MTA pipe transport) and process its
    /// iTIP part. Exit 0: processed or dropped (logged); 65: not mail; 75: try again later.
    Receive,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with a default calendar and task list.
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input (otherwise a random one is printed).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's password.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Delete a user and everything they own.
    Delete { name: String },
    /// Let a user manage users through the API (`--off` to take it back).
    Admin {
        name: String,
        #[arg(long)]
        off: bool,
    },
    /// Make an app password for USER (for one client or script; printed once): the password
    /// for CalDAV clients, or `Authorization: Bearer` for the API.
    AppPassword {
        name: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List USER's app passwords (never the secrets).
    AppPasswords { name: String },
    /// Revoke USER's app password ID.
    RevokeAppPassword { name: String, id: i64 },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kalends: {e}");
            // An MTA bounces on most codes; a configuration being fixed is worth a retry.
            let receiving = matches!(cli.command, Command::Imip(ImipCommand::Receive));
            return ExitCode::from(if receiving { EX_TEMPFAIL } else { 2 });
        }
    };
    kalends::logs::init(&config.log, config.log_format, &config.node_name());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kalends: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Imip(ImipCommand::Receive) = cli.command {
        return imip_receive(&runtime, &config);
    }
    if let Command::Import { user, calendar, file, quiet } = cli.command {
        return match runtime.block_on(import(&config, &user, &calendar, &file, quiet)) {
            Ok(clean) => if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE },
            Err(e) => {
                eprintln!("kalends: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kalends: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => kalends::app::run(config).await,
        Command::Migrate => {
            let store = kalends::app::open_store(&config).await?;
            println!("database is up to date ({})", store.engine());
            Ok(())
        }
        Command::User(cmd) => user_command(cmd, &config).await,
        Command::Share(cmd) => share_command(cmd, &config).await,
        Command::Feed(cmd) => feed_command(cmd, &config).await,
        Command::Reminders(cmd) => reminder_command(cmd, &config).await,
        Command::Imip(ImipCommand::Receive) | Command::Import { .. } => Ok(()),
        Command::Imip(ImipCommand::RotateRsvpKey) => {
            let store = kalends::app::open_store(&config).await?;
            let key = kalends::service::scheduling::rsvp::rotate_key(&store).await?;
            println!("RSVP links are now signed with key {}; older keys verify for 60 more days", key.id);
            Ok(())
        }
    }
}

/// sysexits.h EX_TEMPFAIL: the MTA keeps the message and retries.
const EX_TEMPFAIL: u8 = 75;

/// `kalends imip receive`: the exit status is the MTA's instruction (sysexits.h).
fn imip_receive(runtime: &tokio::runtime::Runtime, config: &Config) -> ExitCode {
    let mut raw = Vec::new();
    let limit = u64::try_from(kalends::service::scheduling::mail::MAX_MAIL_BYTES + 1).unwrap_or(u64::MAX);
    if let Err(e) = std::io::stdin().take(limit).read_to_end(&mut raw) {
        eprintln!("kalends: cannot read standard input: {e}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    let receipt = runtime.block_on(kalends::app::imip_receive(config, &raw));
    match &receipt {
        Receipt::Done(decision) => eprintln!("kalends: {decision:?}"),
        Receipt::NotMail(why) => eprintln!("kalends: {why}"),
        Receipt::TempFail(why) => eprintln!("kalends: temporary failure: {why}"),
    }
    ExitCode::from(receipt.exit_code())
}

async fn user_command(cmd: UserCommand, config: &Config) -> anyhow::Result<()> {
    let store = kalends::app::open_store(config).await?;
    match cmd {
        UserCommand::Add { name, email, password_stdin } => {
            let password = if password_stdin { read_password()? } else { users::random_password() };
            users::create(&store, &name, email.as_deref(), &password).await?;
            if password_stdin {
                println!("created user {name}");
            } else {
                println!("created user {name} with password: {password}");
            }
        }
        UserCommand::Passwd { name, password_stdin } => {
            let password = if password_stdin { read_password()? } else { users::random_password() };
            users::set_password(&store, &name, &password).await?;
            if password_stdin {
                println!("password changed for {name}");
            } else {
                println!("new password for {name}: {password}");
            }
        }
        UserCommand::List => {
            for u in users::list(&store).await? {
                println!("{}\t{}", u.name, u.email.unwrap_or_default());
            }
        }
        UserCommand::Delete { name } => {
            users::delete(&store, &name).await?;
            println!("deleted user {name}");
        }
        UserCommand::Admin { name, off } => {
            use kalends::store::UserStore as _;
            store.set_admin(&name, !off).await.map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            println!("{name} is {}an administrator", if off { "no longer " } else { "" });
        }
        UserCommand::AppPassword { name, label } => {
            let issued = app_passwords::create_for(&store, &name, &label).await?;
            println!("app password {} ({}) for {name} (shown once): {}", issued.app.id, issued.app.label, issued.secret);
        }
        UserCommand::AppPasswords { name } => {
            let user = users::list(&store).await?.into_iter().find(|u| u.name == name).ok_or_else(|| anyhow::anyhow!("no user {name}"))?;
            println!("id\tlabel\tstarts with\tcreated\tlast used");
            for a in app_passwords::list(&store, user.id).await? {
                println!("{}\t{}\t{}…\t{}\t{}", a.id, a.label, a.hint, day(Some(a.created_at)), day(a.last_used_at));
            }
        }
        UserCommand::RevokeAppPassword { name, id } => {
            let user = users::list(&store).await?.into_iter().find(|u| u.name == name).ok_or_else(|| anyhow::anyhow!("no user {name}"))?;
            app_passwords::revoke(&store, user.id, id).await.map_err(|_| anyhow::anyhow!("{name} has no app password {id}"))?;
            println!("revoked app password {id} of {name}");
        }
    }
    Ok(())
}

async fn share_command(cmd: ShareCommand, config: &Config) -> anyhow::Result<()> {
    let store = kalends::app::open_store(config).await?;
    let paths = kalends::dav::resource::Paths::new(config.base_path());
    match cmd {
        ShareCommand::Add { user, calendar, sharee, access } => {
            let (share, created) = shares::add(&store, &user, &calendar, &sharee, access.into()).await?;
            let verb = if created { "shared" } else { "changed the share of" };
            let at = paths.collection(&share.sharee_name, &share.segment);
            println!("{verb} {user}/{} with {sharee} ({}): {at}", share.path, share.access.as_str());
        }
        ShareCommand::List { user } => {
            let (given, received) = shares::list(&store, &user).await?;
            // One tab-separated line per share: direction, calendar, other user, access, URL.
            for s in given {
                let at = paths.collection(&s.sharee_name, &s.segment);
                println!("to\t{}\t{}\t{}\t{at}", s.path, s.sharee_name, s.access.as_str());
            }
            for s in received {
                let at = paths.collection(&s.sharee_name, &s.segment);
                println!("from\t{}\t{}\t{}\t{at}", s.path, s.owner_name, s.access.as_str());
            }
        }
        ShareCommand::Remove { user, calendar, sharee } => {
            anyhow::ensure!(shares::remove(&store, &user, &calendar, &sharee).await?, "{user}/{calendar} is not shared with {sharee}");
            println!("stopped sharing {user}/{calendar} with {sharee}");
        }
    }
    Ok(())
}

async fn feed_command(cmd: FeedCommand, config: &Config) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use kalends::feed::{FeedMode, FeedSettings};
    use kalends::service::feeds::{self, NewFeed};
    use kalends::store::FeedId;
    let store = kalends::app::open_store(config).await?;
    let now = chrono::Utc::now().timestamp();
    match cmd {
        FeedCommand::Create { user, calendar, mode, label, expires, alarms, attendees } => {
            let mode = FeedMode::parse(&mode).ok_or_else(|| anyhow::anyhow!("unknown mode {mode}"))?;
            // Through the whole of the day named, UTC.
            let expires_at = expires.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc().timestamp());
            let new = NewFeed { settings: FeedSettings { mode, alarms, attendees }, label, expires_at };
            let issued = feeds::create(&store, &user, &calendar, new, now).await.with_context(|| format!("feed on {user}/{calendar}"))?;
            println!("created feed {} ({}) on {user}/{}", issued.link.id.0, mode.as_str(), issued.link.calendar_path);
            print_urls(config, &issued.token);
        }
        FeedCommand::List { user } => {
            println!("id\tcalendar\tmode\talarms\tattendees\texpires\tlast used\tlabel");
            for l in feeds::list(&store, &user).await? {
                let s = l.settings;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    l.id.0,
                    l.calendar_path,
                    s.mode.as_str(),
                    yes(s.alarms),
                    yes(s.attendees),
                    day(l.expires_at),
                    day(l.last_used_at),
                    l.label
                );
            }
        }
        FeedCommand::Revoke { id } => {
            feeds::revoke(&store, FeedId(id), None).await.with_context(|| format!("feed {id}"))?;
            println!("revoked feed {id}");
        }
        FeedCommand::Rotate { id, grace_hours } => {
            let issued = feeds::rotate(&store, FeedId(id), None, grace_hours.saturating_mul(3600), now).await.with_context(|| format!("feed {id}"))?;
            println!("feed {id} has a new URL; the old one works for {grace_hours} more hours");
            print_urls(config, &issued.token);
        }
    }
    Ok(())
}

async fn reminder_command(cmd: ReminderCommand, config: &Config) -> anyhow::Result<()> {
    use kalends::service::reminders;
    let store = kalends::app::open_store(config).await?;
    let (user, on) = match cmd {
        ReminderCommand::On { user } => (user, Some(true)),
        ReminderCommand::Off { user } => (user, Some(false)),
        ReminderCommand::Status { user } => (user, None),
    };
    if let Some(on) = on {
        reminders::set_emails(&store, &user, on).await?;
    }
    let on = reminders::emails(&store, &user).await?;
    println!("{user}: DISPLAY and AUDIO alarms {} emailed; EMAIL alarms are", if on { "are" } else { "are not" });
    Ok(())
}

/// `kalends import`: a progress bar on a terminal, then the summary and one line per skipped
/// UID. Returns whether everything was imported (nothing skipped).
async fn import(config: &Config, user: &str, calendar: &str, file: &std::path::Path, quiet: bool) -> anyhow::Result<bool> {
    use std::io::IsTerminal as _;
    use anyhow::Context as _;
    use kalends::service::import::{ImportTarget, import};
    use kalends::service::objects::WriteLimits;
    use kalends::store::{CollectionStore as _, UserStore as _};
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store = kalends::app::open_store(config).await?;
    let owner = store.user_by_name(user).await?.ok_or_else(|| anyhow::anyhow!("no user {user}"))?;
    let path = calendar.trim_matches('/');
    let collection = store.collection_by_path(owner.id, path).await?.ok_or_else(|| anyhow::anyhow!("{user} has no calendar {path}"))?;
    let owner = kalends::service::Principal { id: owner.id, name: owner.name, email: owner.email };
    let limits = WriteLimits {
        max_resource_size: config.limits.max_resource_size,
        min_date_time: config.min_date_time(),
        max_date_time: config.max_date_time(),
        quota_bytes: config.limits.quota_bytes,
    };
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events, {elapsed} ({eta} left)") {
            bar.set_style(style);
        }
        bar
    });
    let mut progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(u64::try_from(total).unwrap_or(u64::MAX));
            bar.set_position(u64::try_from(done).unwrap_or(u64::MAX));
        }
    };
    let target = ImportTarget { store: &store, owner: &owner, collection: &collection, limits: &limits, alarm_wake: None };
    let report = import(&target, &data, &mut progress).await.with_context(|| format!("import into {user}/{path}"))?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    println!(
        "{}: {} added, {} updated, {} unchanged, {} skipped",
        file.display(),
        report.added,
        report.updated,
        report.unchanged,
        report.skipped.len()
    );
    for s in &report.skipped {
        let uid = if s.uid.is_empty() { "(no UID)" } else { s.uid.as_str() };
        println!("skipped {uid}: {}", s.reason);
    }
    Ok(report.skipped.is_empty())
}

/// A new token's URLs: shown once, since only the token's hash is kept.
fn print_urls(config: &Config, token: &str) {
    let Some(public) = config.public_url.as_deref() else {
        println!("path (shown once; public_url is not set): /feeds/{token}.ics");
        return;
    };
    let url = kalends::service::feeds::feed_url(public, token);
    println!("url (shown once): {url}");
    println!("webcal: {}", kalends::service::feeds::webcal_url(&url));
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn day(at: Option<i64>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input.lines().next().unwrap_or("").to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}
