//! Options that make a program run another program, rewrite its
//! configuration, write where the caller chooses or fetch from elsewhere:
//! the ones an attacker smuggles into a tool's argument vector. Drawn from
//! the programs' manuals and the GTFOBins and argument-injection
//! write-ups; each entry says what it does.

/// Long options (matched by name, before any `=`), with what they do.
const LONG: &[(&str, &str)] = &[
    // git
    (
        "--upload-pack",
        "makes git run a program of the caller's choice",
    ),
    (
        "--receive-pack",
        "makes git run a program of the caller's choice",
    ),
    ("--exec", "runs a program of the caller's choice"),
    ("--config", "rewrites the program's configuration"),
    ("--config-env", "rewrites git's configuration"),
    (
        "--template",
        "makes git copy hooks from a directory of the caller's choice",
    ),
    (
        "--output",
        "writes the output to a file of the caller's choice",
    ),
    (
        "--output-document",
        "writes the download to a file of the caller's choice",
    ),
    (
        "--output-directory",
        "writes files to a directory of the caller's choice",
    ),
    // ssh, scp, rsync
    (
        "--rsh",
        "makes rsync run a program of the caller's choice as its shell",
    ),
    (
        "--rsync-path",
        "makes rsync run a program of the caller's choice on the remote side",
    ),
    // tar
    (
        "--checkpoint-action",
        "makes tar run a program of the caller's choice",
    ),
    (
        "--to-command",
        "makes tar pipe files into a program of the caller's choice",
    ),
    (
        "--use-compress-program",
        "makes tar run a program of the caller's choice",
    ),
    (
        "--info-script",
        "makes tar run a program of the caller's choice",
    ),
    (
        "--new-volume-script",
        "makes tar run a program of the caller's choice",
    ),
    (
        "--files-from",
        "makes the program read its file list from a file of the caller's choice",
    ),
    // curl, wget
    ("--upload-file", "uploads a local file"),
    ("--post-file", "uploads a local file"),
    ("--body-file", "uploads a local file"),
    ("--execute", "runs wget commands of the caller's choice"),
    (
        "--directory-prefix",
        "writes the download to a directory of the caller's choice",
    ),
    (
        "--proxy",
        "sends the traffic through a proxy of the caller's choice",
    ),
    // find
    ("-exec", "makes find run a program of the caller's choice"),
    (
        "-execdir",
        "makes find run a program of the caller's choice",
    ),
    ("-ok", "makes find run a program of the caller's choice"),
    ("-okdir", "makes find run a program of the caller's choice"),
    ("-fprintf", "makes find write a file of the caller's choice"),
    ("-delete", "makes find delete what it finds"),
    // docker
    ("--privileged", "gives a container full access to the host"),
    ("--cap-add", "gives a container host capabilities"),
    ("--pid", "shares the host's processes with a container"),
    ("--network", "attaches a container to another network"),
    ("--mount", "mounts host paths into a container"),
    ("--volume", "mounts host paths into a container"),
    ("--security-opt", "turns off a container's confinement"),
    // package managers
    (
        "--registry",
        "installs packages from a registry of the caller's choice",
    ),
    (
        "--index-url",
        "installs packages from an index of the caller's choice",
    ),
    (
        "--extra-index-url",
        "installs packages from an index of the caller's choice",
    ),
    (
        "--trusted-host",
        "turns off TLS checks for a host of the caller's choice",
    ),
    (
        "--find-links",
        "installs packages from a location of the caller's choice",
    ),
    (
        "--userconfig",
        "reads npm configuration from a file of the caller's choice",
    ),
    (
        "--global-config",
        "reads configuration from a file of the caller's choice",
    ),
    ("--unsafe-perm", "runs package scripts with full privileges"),
];

/// Short options, which several programs share, with what they do. Only
/// the ones no common program uses harmlessly: `-v`, `-i`, `-O` mean
/// verbose, interactive and optimise too often to prove anything.
const SHORT: &[(&str, &str)] = &[
    (
        "-e",
        "runs a program of the caller's choice (rsync's remote shell, wget's commands, an interpreter)",
    ),
    (
        "-I",
        "makes tar run a compression program of the caller's choice",
    ),
    (
        "-T",
        "uploads a local file (curl) or reads a file list from it (tar)",
    ),
    (
        "-K",
        "makes curl read its options from a file of the caller's choice",
    ),
];

/// Git configuration keys and transports that run programs.
pub(crate) const CONFIG_KEYS: &[&str] = &[
    "core.sshcommand",
    "core.pager",
    "core.editor",
    "core.hookspath",
    "core.fsmonitor",
    "core.gitproxy",
    "core.askpass",
    "protocol.ext.allow",
    "uploadpack.packobjectshook",
    "diff.external",
    "ext::",
];

/// What `token`, an option (with `next`, the word after it), does when it
/// is dangerous.
pub(crate) fn dangerous_option(token: &str, next: Option<&str>) -> Option<&'static str> {
    let name = token.split_once('=').map_or(token, |(name, _)| name);
    if let Some((_, what)) = LONG.iter().find(|(option, _)| *option == name) {
        return Some(what);
    }
    // `-o ProxyCommand=…` or `-oProxyCommand=…` (ssh, scp, sftp).
    let ssh_option = match name.strip_prefix("-o") {
        Some("") => next.unwrap_or_default(),
        Some(inline) => inline,
        None => "",
    };
    let ssh_option = ssh_option.to_ascii_lowercase();
    if [
        "proxycommand",
        "localcommand",
        "permitlocalcommand",
        "proxyjump",
    ]
    .iter()
    .any(|option| ssh_option.starts_with(option))
    {
        return Some("makes ssh run a program of the caller's choice");
    }
    // `-c core.sshCommand=…` is caught as configuration; other `-c` are git config too.
    if name == "-c" && next.is_some_and(|next| next.contains('=')) {
        return Some("rewrites git's configuration for this command");
    }
    if !token.starts_with("--") && token.len() >= 2 {
        // `-e` alone; an upper-case option may carry its value (`-Ifoo`):
        // `-example` is a word, not `-e`.
        let (short, rest) = token.split_at(2);
        let attached = rest.is_empty() || short.as_bytes()[1].is_ascii_uppercase();
        return SHORT
            .iter()
            .find(|(option, _)| *option == short && attached)
            .map(|(_, what)| *what);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_matched_by_name_with_or_without_a_value() {
        assert!(dangerous_option("--upload-pack=touch", None).is_some());
        assert!(dangerous_option("--upload-pack", Some("touch")).is_some());
        assert!(dangerous_option("-oProxyCommand=id", None).is_some());
        assert!(dangerous_option("-o", Some("ProxyCommand=id")).is_some());
        assert!(dangerous_option("-o", Some("out.txt")).is_none());
        assert!(dangerous_option("-Ifoo", None).is_some());
        assert!(dangerous_option("-c", Some("user.name=x")).is_some());
        assert!(dangerous_option("--all", None).is_none());
        assert!(dangerous_option("-n", None).is_none());
        assert!(dangerous_option("-example", None).is_none());
        assert!(dangerous_option("-v", None).is_none());
        assert!(dangerous_option("--uploadpack", None).is_none());
    }
}
