//! Least privilege once the captures and outputs are open.
//!
//! Opening a live capture needs `CAP_NET_RAW` (and `CAP_NET_ADMIN` for promiscuous mode and the
//! kernel buffer); nothing after that does: the workers read their already open sockets and
//! re-attach classic BPF filters to them (`SO_ATTACH_FILTER` needs no capability on a socket one
//! owns). So before the first packet is read, [`drop_all`] gives up everything, whichever way
//! the process got its privilege:
//!
//! - started as root: it becomes `--user`/`--group` (default `nobody` and the first of
//!   `nogroup`, `nobody` or the user's primary group that exists), with no supplementary group;
//! - started with file capabilities (`setcap`) or ambient ones (systemd's
//!   `AmbientCapabilities`, `setpriv --ambient-caps`): it keeps its user.
//!
//! On every path it then empties the bounding set (when it holds `CAP_SETPCAP`, which only root
//! does; otherwise it says so, and `no_new_privs` is what keeps an `execve` from gaining
//! anything), the ambient, inheritable, permitted and effective sets, sets `no_new_privs`, and
//! reads the sets back: a capability still held is an error, and the caller stops.
//!
//! Capabilities belong to each thread, not to the process: a thread started before the drop
//! keeps what it had. So the drop runs while the main thread is the only one (it checks), and
//! the threads that serve the network (metrics endpoint, TCP syslog senders) are started after
//! it. The user switch, by contrast, goes to every thread (the C library applies `setresuid` to
//! all of them), which is why it is done with the library calls that `nix` wraps.
//!
//! Then [`deny_syscalls`] installs a seccomp filter (`seccompiler`, from the Firecracker
//! project) that refuses, with `EPERM`, the system calls a sensor never makes and an attacker
//! who took over a parser would want next: running a program, tracing or reading another
//! process, namespaces (a new user namespace would give back every capability inside it),
//! mounts, kernel modules and keyrings, eBPF, perf, io_uring (whose operations would bypass the
//! filter), userfaultfd. It is a deny list, not an allow list: what the threads do (libpcap's
//! ring, the outputs, the spool, SIGHUP's reopen, the metrics endpoint, thread start-up in the
//! C library) varies with the C library and the options, and a call missing from an allow list
//! would kill the sensor in production; what is denied here is never called by it.

use std::collections::HashSet;

use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Group, Uid, User};

/// The user a root start becomes when `--user` is not given.
pub const DEFAULT_USER: &str = "nobody";
/// The groups a root start tries, in order, when `--group` is not given: Debian's name for the
/// unprivileged group, then the RHEL family's.
pub const DEFAULT_GROUPS: [&str; 2] = ["nogroup", "nobody"];

/// What to drop to.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// `--user`: name or numeric id.
    pub user: Option<String>,
    /// `--group`: name or numeric id.
    pub group: Option<String>,
    /// Behave as if not root: keep the user (capabilities are still dropped). For development
    /// only; `main` honours it in debug builds alone.
    pub keep_user: bool,
    /// Directories the process writes files into after the drop (`--pcap-dir`): handed to the
    /// new user and group before the switch, when there is one.
    pub hand_over: Vec<std::path::PathBuf>,
}

/// What [`drop_all`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The user and group switched to, with their ids, when the user was switched.
    pub switched_to: Option<(String, u32, String, u32)>,
    /// Capabilities left in the bounding set because the process could not drop them (no
    /// `CAP_SETPCAP`); `no_new_privs` keeps them out of reach.
    pub bounding_kept: usize,
}

/// The group to become: `--group` when given, else the first of [`DEFAULT_GROUPS`] that
/// `exists`, else `None`: the user's primary group. The lookup is a parameter so that the
/// choice can be tested without the system's group database.
pub fn choose_group(given: Option<&str>, exists: impl Fn(&str) -> bool) -> Option<&str> {
    match given {
        Some(g) => Some(g),
        None => DEFAULT_GROUPS.into_iter().find(|g| exists(g)),
    }
}

/// Whether any of the real, effective or saved user ids is 0.
pub fn is_root() -> bool {
    match nix::unistd::getresuid() {
        Ok(r) => r.real.is_root() || r.effective.is_root() || r.saved.is_root(),
        Err(_) => Uid::effective().is_root(),
    }
}

/// Why privileges could not be given up, or the system-call filter not installed. Every
/// message is one line; the process must not go on reading packets after any of them.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("cannot look up user {spec}: {source}")]
    LookupUser { spec: String, source: nix::Error },
    #[error("no user named {0}")]
    NoUser(String),
    #[error("cannot look up group {spec}: {source}")]
    LookupGroup { spec: String, source: nix::Error },
    #[error("no group named {0}")]
    NoGroup(String),
    #[error("{0} threads were started before the privilege drop, and capabilities belong to each thread")]
    Threads(usize),
    /// A capability call failed: `what` is the verb phrase (`read the bounding set`).
    #[error("cannot {what}: {source}")]
    Caps { what: String, source: caps::errors::CapsError },
    /// A user, group or process call failed: `what` is the verb phrase.
    #[error("cannot {what}: {source}")]
    Sys { what: String, source: nix::Error },
    #[error("the switch to {user}:{group} did not take")]
    SwitchDidNotTake { user: String, group: String },
    #[error("capabilities still {set} after the drop: {names}")]
    StillHeld { set: &'static str, names: String },
    #[error("no_new_privs is not set after the drop")]
    NoNewPrivsUnset,
    #[error("capabilities still in the bounding set after the drop: {0}")]
    StillBounding(String),
    #[error("cannot build the system-call filter: {0}")]
    BuildFilter(String),
    #[error("cannot install the system-call filter: {0}")]
    InstallFilter(seccompiler::Error),
}

/// A user by name, or by number when no user has that name: (name, uid, primary gid). A
/// number that names no user gets the group of the same number.
fn resolve_user(spec: &str) -> Result<(String, Uid, Gid), PrivilegeError> {
    let found = User::from_name(spec)
        .map_err(|source| PrivilegeError::LookupUser { spec: spec.to_string(), source })?;
    if let Some(u) = found {
        return Ok((u.name, u.uid, u.gid));
    }
    let n: u32 = spec.parse().map_err(|_| PrivilegeError::NoUser(spec.to_string()))?;
    Ok(match User::from_uid(Uid::from_raw(n)).ok().flatten() {
        Some(u) => (u.name, u.uid, u.gid),
        None => (spec.to_string(), Uid::from_raw(n), Gid::from_raw(n)),
    })
}

/// A group by name, or by number when no group has that name.
fn resolve_group(spec: &str) -> Result<Gid, PrivilegeError> {
    let found = Group::from_name(spec)
        .map_err(|source| PrivilegeError::LookupGroup { spec: spec.to_string(), source })?;
    if let Some(g) = found {
        return Ok(g.gid);
    }
    spec.parse().map(Gid::from_raw).map_err(|_| PrivilegeError::NoGroup(spec.to_string()))
}

fn group_exists(name: &str) -> bool {
    matches!(Group::from_name(name), Ok(Some(_)))
}

/// Threads of this process, from `/proc/self/task`; `None` when it cannot be read.
fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

fn err(what: &str) -> impl Fn(caps::errors::CapsError) -> PrivilegeError + '_ {
    move |source| PrivilegeError::Caps { what: what.to_string(), source }
}

/// A failed system call of the drop, as `cannot WHAT: errno`.
fn sys(what: impl Into<String>) -> impl FnOnce(nix::Error) -> PrivilegeError {
    let what = what.into();
    move |source| PrivilegeError::Sys { what, source }
}

/// Every capability the calling thread still holds, by set; empty when none.
pub fn held() -> Result<Vec<(&'static str, CapsHashSet)>, PrivilegeError> {
    let mut held = Vec::new();
    for (name, set) in [
        ("effective", CapSet::Effective),
        ("permitted", CapSet::Permitted),
        ("inheritable", CapSet::Inheritable),
        ("ambient", CapSet::Ambient),
    ] {
        let s = match caps::read(None, set) {
            Ok(s) => s,
            // A kernel without ambient capabilities (before 4.3) has none to hold.
            Err(_) if matches!(set, CapSet::Ambient) && caps::runtime::ambient_set_supported().is_err() => {
                HashSet::new()
            }
            Err(e) => return Err(err(&format!("read the {name} capabilities"))(e)),
        };
        if !s.is_empty() {
            held.push((name, s));
        }
    }
    Ok(held)
}

fn names(set: &CapsHashSet) -> String {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string().to_lowercase()).collect();
    v.sort();
    v.join(",")
}

/// Gives up the user (when root, or when `--user`/`--group` ask) and every capability, then
/// checks that none is left. Call it from the main thread before any other thread is started.
pub fn drop_all(plan: &Plan) -> Result<Dropped, PrivilegeError> {
    if let Some(n) = thread_count().filter(|&n| n > 1) {
        return Err(PrivilegeError::Threads(n));
    }
    let switch = (is_root() && !plan.keep_user) || plan.user.is_some() || plan.group.is_some();
    // Names are looked up before anything is dropped, while the databases can still be read.
    let target = if switch {
        let (user, uid, primary) = resolve_user(plan.user.as_deref().unwrap_or(DEFAULT_USER))?;
        let (group, gid) = match choose_group(plan.group.as_deref(), group_exists) {
            Some(g) => (g.to_string(), resolve_group(g)?),
            None => {
                let name =
                    Group::from_gid(primary).ok().flatten().map_or_else(|| primary.to_string(), |g| g.name);
                (name, primary)
            }
        };
        Some((user, uid, group, gid))
    } else {
        None
    };

    // The bounding set first: dropping from it needs CAP_SETPCAP, which the user switch takes
    // away. It limits only what a later execve may gain, so the switch still works after it.
    let bounding = caps::read(None, CapSet::Bounding).map_err(err("read the bounding set"))?;
    let can_drop_bounding = caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false);
    let mut bounding_kept = 0;
    if can_drop_bounding {
        for c in &bounding {
            caps::drop(None, CapSet::Bounding, *c).map_err(err("drop from the bounding set"))?;
        }
    } else {
        bounding_kept = bounding.len();
    }

    if let Some((user, uid, group, gid)) = &target {
        for dir in &plan.hand_over {
            nix::unistd::chown(dir, Some(*uid), Some(*gid))
                .map_err(sys(format!("hand {} to {user}:{group}", dir.display())))?;
        }
        nix::unistd::setgroups(&[]).map_err(sys("clear the supplementary groups"))?;
        nix::unistd::setresgid(*gid, *gid, *gid).map_err(sys(format!("switch to group {group}")))?;
        nix::unistd::setresuid(*uid, *uid, *uid).map_err(sys(format!("switch to user {user}")))?;
        let r = nix::unistd::getresuid().map_err(sys("read the user ids"))?;
        let g = nix::unistd::getresgid().map_err(sys("read the group ids"))?;
        if [r.real, r.effective, r.saved].iter().any(|u| u != uid)
            || [g.real, g.effective, g.saved].iter().any(|x| x != gid)
        {
            return Err(PrivilegeError::SwitchDidNotTake { user: user.clone(), group: group.clone() });
        }
    }

    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(err("clear the ambient capabilities"))?;
    }
    caps::clear(None, CapSet::Inheritable).map_err(err("clear the inheritable capabilities"))?;
    // Clearing the permitted set clears the effective one with it.
    caps::clear(None, CapSet::Permitted).map_err(err("clear the permitted capabilities"))?;
    caps::clear(None, CapSet::Effective).map_err(err("clear the effective capabilities"))?;
    nix::sys::prctl::set_no_new_privs().map_err(sys("set no_new_privs"))?;

    // Read back: a capability still held means the drop did not do what it says.
    if let Some((name, set)) = held()?.first() {
        return Err(PrivilegeError::StillHeld { set: name, names: names(set) });
    }
    if !nix::sys::prctl::get_no_new_privs().unwrap_or(false) {
        return Err(PrivilegeError::NoNewPrivsUnset);
    }
    if can_drop_bounding {
        let left = caps::read(None, CapSet::Bounding).map_err(err("read the bounding set"))?;
        if !left.is_empty() {
            return Err(PrivilegeError::StillBounding(names(&left)));
        }
    }
    Ok(Dropped {
        switched_to: target.map(|(user, uid, group, gid)| (user, uid.as_raw(), group, gid.as_raw())),
        bounding_kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_given_wins() {
        assert_eq!(choose_group(Some("mw"), |_| true), Some("mw"));
        assert_eq!(choose_group(Some("mw"), |_| false), Some("mw"));
    }

    #[test]
    fn nogroup_when_the_system_has_it() {
        assert_eq!(choose_group(None, |g| g == "nogroup" || g == "nobody"), Some("nogroup"));
    }

    #[test]
    fn nobody_where_nogroup_does_not_exist() {
        // RHEL, Fedora, Alpine: the unprivileged group is `nobody`.
        assert_eq!(choose_group(None, |g| g == "nobody"), Some("nobody"));
    }

    #[test]
    fn the_primary_group_when_neither_exists() {
        assert_eq!(choose_group(None, |_| false), None);
    }

    #[test]
    fn a_numeric_user_that_names_nobody_gets_the_group_of_its_number() {
        // 4242 is most unlikely to exist; if it does, its own primary group is used.
        let (_, uid, gid) = resolve_user("4242").unwrap();
        assert_eq!(uid.as_raw(), 4242);
        if User::from_uid(uid).ok().flatten().is_none() {
            assert_eq!(gid.as_raw(), 4242);
        }
        assert!(resolve_user("no-such-user-minewatch").unwrap_err().to_string().contains("no user named"));
        assert!(resolve_group("no-such-group-minewatch").unwrap_err().to_string().contains("no group named"));
        assert_eq!(resolve_group("4243").unwrap().as_raw(), 4243);
    }
}

/// The system calls [`deny_syscalls`] refuses whatever their arguments.
fn denied_syscalls() -> Vec<(&'static str, i64)> {
    vec![
        ("execve", libc::SYS_execve),
        ("execveat", libc::SYS_execveat),
        ("ptrace", libc::SYS_ptrace),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("unshare", libc::SYS_unshare),
        ("setns", libc::SYS_setns),
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
        ("chroot", libc::SYS_chroot),
        ("open_by_handle_at", libc::SYS_open_by_handle_at),
        ("init_module", libc::SYS_init_module),
        ("finit_module", libc::SYS_finit_module),
        ("delete_module", libc::SYS_delete_module),
        ("kexec_load", libc::SYS_kexec_load),
        ("reboot", libc::SYS_reboot),
        ("swapon", libc::SYS_swapon),
        ("swapoff", libc::SYS_swapoff),
        ("acct", libc::SYS_acct),
        ("settimeofday", libc::SYS_settimeofday),
        ("clock_settime", libc::SYS_clock_settime),
        ("adjtimex", libc::SYS_adjtimex),
        ("bpf", libc::SYS_bpf),
        ("perf_event_open", libc::SYS_perf_event_open),
        ("keyctl", libc::SYS_keyctl),
        ("add_key", libc::SYS_add_key),
        ("request_key", libc::SYS_request_key),
        ("userfaultfd", libc::SYS_userfaultfd),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        ("io_uring_enter", libc::SYS_io_uring_enter),
        ("io_uring_register", libc::SYS_io_uring_register),
        ("personality", libc::SYS_personality),
    ]
}

/// `clone` flags that make new namespaces: refused, as `unshare` is.
const NAMESPACE_FLAGS: [u64; 7] = [
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
];

fn filter_error(e: impl std::fmt::Display) -> PrivilegeError {
    PrivilegeError::BuildFilter(e.to_string())
}

/// The filters [`deny_syscalls`] installs: the deny list (with `clone` refused when it asks for
/// a namespace), and `clone3` answered `ENOSYS`: its flags are in memory, out of a filter's
/// reach, and the C library falls back to `clone` on `ENOSYS`, where the flags are checked.
fn filters(arch: seccompiler::TargetArch) -> Result<Vec<seccompiler::BpfProgram>, PrivilegeError> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    use std::collections::BTreeMap;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        denied_syscalls().into_iter().map(|(_, nr)| (nr, Vec::new())).collect();
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|&flag| {
            let c = SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(flag), flag)
                .map_err(filter_error)?;
            SeccompRule::new(vec![c]).map_err(filter_error)
        })
        .collect::<Result<Vec<_>, PrivilegeError>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    let deny =
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch)
            .map_err(filter_error)?;
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(filter_error)?;
    [deny, clone3].into_iter().map(|f| f.try_into().map_err(filter_error)).collect()
}

/// Installs the deny-list filter (see the module's documentation) on every thread of the
/// process, and on every thread started after. Needs `no_new_privs` (set by [`drop_all`]) when
/// the process holds no `CAP_SYS_ADMIN`. `Ok(false)` on an architecture the filter compiler
/// does not know: nothing is installed.
pub fn deny_syscalls() -> Result<bool, PrivilegeError> {
    let Ok(arch) = seccompiler::TargetArch::try_from(std::env::consts::ARCH) else {
        return Ok(false);
    };
    for f in filters(arch)? {
        seccompiler::apply_filter_all_threads(&f).map_err(PrivilegeError::InstallFilter)?;
    }
    Ok(true)
}

/// [`deny_syscalls`] on the calling thread only (a test's own thread).
#[cfg(test)]
fn deny_syscalls_this_thread() -> Result<(), PrivilegeError> {
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH).map_err(filter_error)?;
    for f in filters(arch)? {
        seccompiler::apply_filter(&f).map_err(PrivilegeError::InstallFilter)?;
    }
    Ok(())
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn every_denied_call_has_its_own_number() {
        let list = denied_syscalls();
        let mut nrs: Vec<i64> = list.iter().map(|&(_, nr)| nr).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), list.len(), "{list:?}");
        assert!(!nrs.contains(&libc::SYS_clone) && !nrs.contains(&libc::SYS_clone3));
    }

    #[test]
    fn the_filter_refuses_exec_and_namespaces_and_allows_threads() {
        if seccompiler::TargetArch::try_from(std::env::consts::ARCH).is_err() {
            return;
        }
        // On a thread of its own: the filter stays with that thread, which then ends.
        let outcome = std::thread::spawn(|| {
            deny_syscalls_this_thread().map_err(|e| e.to_string())?;
            // A thread started under the filter (clone3 refused, clone without namespaces).
            let child = std::thread::spawn(|| 7).join().map_err(|_| "a thread could not start")?;
            // Running a program: the child process inherits the filter and its execve fails.
            let exec = std::process::Command::new("/bin/true").status();
            // A namespace of this thread's own (root could otherwise make one).
            let ns = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS);
            Ok::<_, String>((child, exec.map_err(|e| e.raw_os_error()), ns))
        })
        .join()
        .unwrap();
        let (child, exec, ns) = outcome.unwrap();
        assert_eq!(child, 7);
        assert_eq!(exec.unwrap_err(), Some(libc::EPERM));
        assert_eq!(ns, Err(nix::errno::Errno::EPERM));
    }
}
