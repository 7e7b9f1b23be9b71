//! The QMP commands: one table, [`COMMANDS`]. A command is a name, the arguments it takes, and a
//! function of the session's [`Ctx`]. Commands that need devices semu does not have yet
//! (`screendump` with a display, `send-key` and `input-send-event` with an input device) get an
//! entry here when those devices come; until then they are "not found", as every unknown name.

use serde_json::{json, Map, Value};

use super::hook::{Control, Link};
use super::MACHINE_TIMEOUT;

/// A QMP error reply: its class and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// `GenericError` or `CommandNotFound`.
    pub class: &'static str,
    /// What went wrong, for a person.
    pub desc: String,
}

impl Error {
    pub(super) fn generic(desc: impl Into<String>) -> Self {
        Self { class: "GenericError", desc: desc.into() }
    }

    fn not_found(desc: impl Into<String>) -> Self {
        Self { class: "CommandNotFound", desc: desc.into() }
    }

    /// The `{"error": ...}` reply, with the command's `id` if it had one.
    pub(super) fn reply(&self, id: Option<Value>) -> Value {
        with_id(json!({"error": {"class": self.class, "desc": self.desc}}), id)
    }
}

fn with_id(mut reply: Value, id: Option<Value>) -> Value {
    if let (Some(id), Some(obj)) = (id, reply.as_object_mut()) {
        obj.insert("id".into(), id);
    }
    reply
}

/// What a command may use and leave behind.
pub(super) struct Ctx<'a> {
    /// The machine.
    pub link: &'a Link,
    /// The run has ended: the machine answers nothing any more.
    pub finished: bool,
    /// Events to send before the reply, as (name, data).
    pub events: Vec<(&'static str, Value)>,
    /// What the machine is told once the reply is sent (`quit`, `system_reset`).
    pub after: Option<Control>,
}

impl Ctx<'_> {
    fn ask(&self, what: Control) -> Result<bool, Error> {
        if self.finished {
            return Err(Error::generic("the machine has stopped running"));
        }
        self.link.ask(what, MACHINE_TIMEOUT).map_err(Error::generic)
    }
}

/// One command.
pub(super) struct Command {
    /// Its QMP name.
    pub name: &'static str,
    /// The arguments it takes (all optional); any other is an error.
    pub params: &'static [&'static str],
    /// Runs it: the `return` value, or the error.
    pub run: fn(&mut Ctx<'_>, &Map<String, Value>) -> Result<Value, Error>,
}

/// Every command but `qmp_capabilities`, which [`dispatch`] handles.
pub(super) const COMMANDS: &[Command] = &[
    Command { name: "query-version", params: &[], run: query_version },
    Command { name: "query-status", params: &[], run: query_status },
    Command { name: "query-commands", params: &[], run: query_commands },
    Command { name: "stop", params: &[], run: stop },
    Command { name: "cont", params: &[], run: cont },
    Command { name: "system_powerdown", params: &[], run: system_powerdown },
    Command { name: "system_reset", params: &[], run: system_reset },
    Command { name: "quit", params: &[], run: quit },
];

/// semu's version in QMP's form (clients read it where QEMU puts its own).
pub(super) fn version() -> Value {
    let n = |s: &str| s.parse::<u64>().unwrap_or(0);
    json!({
        "qemu": {
            "major": n(env!("CARGO_PKG_VERSION_MAJOR")),
            "minor": n(env!("CARGO_PKG_VERSION_MINOR")),
            "micro": n(env!("CARGO_PKG_VERSION_PATCH")),
        },
        "package": concat!("semu ", env!("CARGO_PKG_VERSION")),
    })
}

fn query_version(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    Ok(version())
}

fn query_status(ctx: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    let status = if ctx.finished {
        "shutdown"
    } else if ctx.ask(Control::Query)? {
        "paused"
    } else {
        "running"
    };
    Ok(json!({"status": status, "running": status == "running", "singlestep": false}))
}

fn query_commands(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    let names = std::iter::once("qmp_capabilities").chain(COMMANDS.iter().map(|c| c.name));
    Ok(Value::Array(names.map(|n| json!({"name": n})).collect()))
}

fn stop(ctx: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    if !ctx.ask(Control::Pause)? {
        ctx.events.push(("STOP", json!({})));
    }
    Ok(json!({}))
}

fn cont(ctx: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    if ctx.ask(Control::Resume)? {
        ctx.events.push(("RESUME", json!({})));
    }
    Ok(json!({}))
}

/// A machine without a power button (semu's, like QEMU's machines without ACPI or a GPIO power
/// key): the event is all there is; a guest-side handler would have to act on it.
fn system_powerdown(ctx: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    ctx.events.push(("POWERDOWN", json!({})));
    Ok(json!({}))
}

/// Ends the run as a guest reboot does (semu ends every run at a reset, as QEMU's `-no-reboot`).
fn system_reset(ctx: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    if ctx.finished {
        return Err(Error::generic("the machine has stopped running"));
    }
    ctx.after = Some(Control::Reset);
    Ok(json!({}))
}

fn quit(ctx: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, Error> {
    ctx.after = Some(Control::Quit);
    Ok(json!({}))
}

/// The parts of a command message: its name, arguments and id.
fn parse(msg: &Value) -> Result<(&str, Map<String, Value>), Error> {
    let obj = msg.as_object().ok_or_else(|| Error::generic("QMP input must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "execute" | "arguments" | "id")) {
        return Err(Error::generic(format!("QMP input member '{k}' is unexpected")));
    }
    let name = match obj.get("execute") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(Error::generic("QMP input member 'execute' must be a string")),
        None => return Err(Error::generic("QMP input lacks member 'execute'")),
    };
    let args = match obj.get("arguments") {
        Some(Value::Object(a)) => a.clone(),
        Some(_) => return Err(Error::generic("QMP input member 'arguments' must be an object")),
        None => Map::new(),
    };
    Ok((name, args))
}

fn check_params(args: &Map<String, Value>, params: &[&str]) -> Result<(), Error> {
    match args.keys().find(|k| !params.contains(&k.as_str())) {
        Some(k) => Err(Error::generic(format!("Parameter '{k}' is unexpected"))),
        None => Ok(()),
    }
}

/// `qmp_capabilities`: semu offers no capabilities, so `enable` may only be empty.
fn capabilities(args: &Map<String, Value>) -> Result<Value, Error> {
    check_params(args, &["enable"])?;
    match args.get("enable") {
        None => Ok(json!({})),
        Some(Value::Array(caps)) if caps.is_empty() => Ok(json!({})),
        Some(Value::Array(caps)) => Err(Error::generic(format!("Capability {} not available", caps[0]))),
        Some(_) => Err(Error::generic("Invalid parameter type for 'enable', expected: array")),
    }
}

/// Runs one message from the client and returns the reply. `negotiated`: whether the session
/// is past `qmp_capabilities` (only that command is accepted before).
pub(super) fn dispatch(ctx: &mut Ctx<'_>, negotiated: &mut bool, msg: &Value) -> Value {
    let id = msg.as_object().and_then(|o| o.get("id")).cloned();
    let result = parse(msg).and_then(|(name, args)| match (name, *negotiated) {
        ("qmp_capabilities", false) => {
            let r = capabilities(&args);
            *negotiated = r.is_ok();
            r
        }
        ("qmp_capabilities", true) => {
            Err(Error::not_found("Capabilities negotiation is already complete, command ignored"))
        }
        (_, false) => Err(Error::not_found("Expecting capabilities negotiation with 'qmp_capabilities'")),
        (name, true) => match COMMANDS.iter().find(|c| c.name == name) {
            Some(c) => check_params(&args, c.params).and_then(|()| (c.run)(ctx, &args)),
            None => Err(Error::not_found(format!("The command {name} has not been found"))),
        },
    });
    match result {
        Ok(v) => with_id(json!({"return": v}), id),
        Err(e) => e.reply(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(negotiated: &mut bool, msg: Value) -> (Value, Ctx<'static>) {
        // a link nobody listens to: commands that ask the machine fail, the rest must not ask
        let (hook, link) = super::super::hook::Hook::new(semu_api::Console::sink());
        drop(hook);
        let link: &'static Link = Box::leak(Box::new(link));
        let mut ctx = Ctx { link, finished: false, events: Vec::new(), after: None };
        let reply = dispatch(&mut ctx, negotiated, &msg);
        (reply, ctx)
    }

    #[test]
    fn only_capabilities_negotiation_comes_first_and_only_once() {
        let mut neg = false;
        let (r, _) = run(&mut neg, json!({"execute": "query-version", "id": 7}));
        assert_eq!(r["error"]["class"], "CommandNotFound", "{r}");
        assert!(r["error"]["desc"].as_str().unwrap().contains("qmp_capabilities"), "{r}");
        assert_eq!(r["id"], 7);
        assert!(!neg);
        let (r, _) = run(&mut neg, json!({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}));
        assert_eq!(r["error"]["class"], "GenericError", "{r}");
        assert!(!neg);
        let (r, _) = run(&mut neg, json!({"execute": "qmp_capabilities", "id": "a"}));
        assert_eq!(r, json!({"return": {}, "id": "a"}));
        assert!(neg);
        let (r, _) = run(&mut neg, json!({"execute": "qmp_capabilities"}));
        assert_eq!(r["error"]["class"], "CommandNotFound", "{r}");
    }

    #[test]
    fn unknown_commands_and_bad_messages_are_errors_with_the_id() {
        let mut neg = true;
        for name in ["screendump", "send-key", "input-send-event", "no-such"] {
            let (r, _) = run(&mut neg, json!({"execute": name, "id": [1, "x"]}));
            let desc = format!("The command {name} has not been found");
            assert_eq!(r, json!({"error": {"class": "CommandNotFound", "desc": desc}, "id": [1, "x"]}));
        }
        for (msg, want) in [
            (json!([1]), "must be a JSON object"),
            (json!({"id": 1}), "lacks member 'execute'"),
            (json!({"execute": 3}), "'execute' must be a string"),
            (json!({"execute": "stop", "arguments": []}), "'arguments' must be an object"),
            (json!({"execute": "stop", "extra": 1}), "member 'extra' is unexpected"),
            (json!({"execute": "query-version", "arguments": {"x": 1}}), "Parameter 'x' is unexpected"),
        ] {
            let (r, _) = run(&mut neg, msg.clone());
            assert_eq!(r["error"]["class"], "GenericError", "{msg}: {r}");
            assert!(r["error"]["desc"].as_str().unwrap().contains(want), "{msg}: {r}");
        }
    }

    #[test]
    fn version_quit_reset_powerdown_and_a_machine_that_is_gone() {
        let mut neg = true;
        let (r, _) = run(&mut neg, json!({"execute": "query-version"}));
        assert_eq!(r["return"]["package"], concat!("semu ", env!("CARGO_PKG_VERSION")));
        assert!(r["return"]["qemu"]["major"].is_u64() && r["return"]["qemu"]["micro"].is_u64(), "{r}");
        let (r, ctx) = run(&mut neg, json!({"execute": "quit"}));
        assert_eq!((r, ctx.after), (json!({"return": {}}), Some(Control::Quit)));
        let (r, ctx) = run(&mut neg, json!({"execute": "system_reset"}));
        assert_eq!((r, ctx.after), (json!({"return": {}}), Some(Control::Reset)));
        let (r, ctx) = run(&mut neg, json!({"execute": "system_powerdown"}));
        assert_eq!((r, ctx.events, ctx.after), (json!({"return": {}}), vec![("POWERDOWN", json!({}))], None));
        // the machine end is gone: stop cannot be done, and says so
        let (r, ctx) = run(&mut neg, json!({"execute": "stop"}));
        assert_eq!(r["error"]["class"], "GenericError", "{r}");
        assert!(ctx.events.is_empty());
        let (r, _) = run(&mut neg, json!({"execute": "query-commands"}));
        let names: Vec<&str> = r["return"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"qmp_capabilities") && names.contains(&"quit") && names.len() == 9, "{names:?}");
    }
}
