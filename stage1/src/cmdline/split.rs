//! The command line into parameters, by the kernel's rules (see the
//! parent module's docs).

/// The kernel's `isspace` on ASCII (Latin-1 NBSP is not handled: the command
/// line is UTF-8 here).
pub(super) fn is_kspace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// One parameter as the kernel splits it: the name and the value after the
/// first `=`, with the kernel's quote removal.
fn next_arg(args: &str) -> ((&str, Option<&str>), &str) {
    let (quoted, args) = match args.strip_prefix('"') {
        Some(rest) => (true, rest),
        None => (false, args),
    };
    let mut in_quote = quoted;
    let mut equals = None;
    let mut end = args.len();
    for (i, c) in args.char_indices() {
        if is_kspace(c) && !in_quote {
            end = i;
            break;
        }
        if equals.is_none() && c == '=' {
            equals = Some(i);
        }
        if c == '"' {
            in_quote = !in_quote;
        }
    }
    let word = &args[..end];
    let rest = args[end..].trim_start_matches(is_kspace);
    let pair = match equals {
        None => {
            let mut param = word;
            if quoted {
                param = param.strip_suffix('"').unwrap_or(param);
            }
            (param, None)
        }
        Some(eq) => {
            let param = &word[..eq];
            let mut val = &word[eq + 1..];
            let mut strip = quoted;
            if let Some(v) = val.strip_prefix('"') {
                val = v;
                strip = true;
            }
            if strip {
                val = val.strip_suffix('"').unwrap_or(val);
            }
            (param, Some(val))
        }
    };
    (pair, rest)
}

/// Splits a command line the way the kernel does: the parameters before a
/// bare `--`, and the words after it (with `k=v` joined back).
pub fn split(cmdline: &str) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let mut params = Vec::new();
    let mut init_args = Vec::new();
    let mut rest = cmdline.trim_start_matches(is_kspace);
    let mut after_dashes = false;
    while !rest.is_empty() {
        let ((param, val), next) = next_arg(rest);
        rest = next;
        if after_dashes {
            init_args.push(match val {
                Some(v) => format!("{param}={v}"),
                None => param.to_owned(),
            });
        } else if val.is_none() && param == "--" {
            after_dashes = true;
        } else {
            params.push((param.to_owned(), val.map(str::to_owned)));
        }
    }
    (params, init_args)
}
