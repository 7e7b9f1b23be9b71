//! Machine-file text, errors that point into it, and the per-device options a plugin parses.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, Deserializer};
use toml::Spanned;

/// A machine file: its path (for messages and relative paths) and its text.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as the user gave it.
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A file read from disk or built in memory.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self { path: path.into(), text: text.into() })
    }

    /// 1-based line and column of byte offset `at`.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
        (line, col)
    }

    /// The directory relative paths in this file are resolved against.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// An error at byte range `span` (or at no particular place).
    pub fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.clone(),
            line: span.map(|s| u32::try_from(self.line_col(s.start).0).unwrap_or(u32::MAX)),
            instance: None,
            field: None,
            option: None,
            message: message.into(),
        }
    }
}

/// An error in a machine file. Its message names the file, the line, the device instance and
/// the field when they are known: `machines/x.toml:12: device "uart0": field "baud": unknown field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The machine file.
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<u32>,
    /// The device instance concerned, if any.
    pub instance: Option<String>,
    /// The field concerned, if any (a dotted path such as `memory.size`).
    pub field: Option<String>,
    /// The command-line option the offending value came from (`--disk`), if it did not come
    /// from the file: the error then names the option instead of a line.
    pub option: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// Names the device instance.
    pub fn instance(mut self, name: impl Into<String>) -> Self {
        self.instance = Some(name.into());
        self
    }

    /// Names the field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Says the value came from command-line option `option` (not from the file).
    pub fn option(mut self, option: &'static str) -> Self {
        self.option = Some(option);
        self.line = None;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.option {
            Some(o) => write!(f, "{o} (command line, machine {}):", self.file.display())?,
            None => {
                write!(f, "{}", self.file.display())?;
                if let Some(line) = self.line {
                    write!(f, ":{line}")?;
                }
                write!(f, ":")?;
            }
        }
        if let Some(i) = &self.instance {
            write!(f, " device \"{i}\":")?;
        }
        if let Some(field) = &self.field {
            write!(f, " field \"{field}\":")?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The field a serde "missing field `name`" message is about.
pub fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name.to_string())
}

/// The kind-specific options of one device instance: its table in the machine file minus the keys
/// every device has (`name`, `kind`, `base`, `irq`, `irq-parent`), plus command-line overrides.
#[derive(Clone, Debug)]
pub struct Params {
    file: Arc<SourceFile>,
    /// Index of the device's table in the file's `[[device]]` array (`None`: no options given).
    index: Option<usize>,
    common: &'static [&'static str],
    /// (key, value, command-line option it came from)
    overrides: Vec<(String, toml::Value, &'static str)>,
    instance: String,
}

impl Params {
    /// The options of the `index`-th `[[device]]` table of `file`, skipping the keys in `common`.
    pub fn new(file: Arc<SourceFile>, index: Option<usize>, common: &'static [&'static str], instance: &str) -> Self {
        Self { file, index, common, overrides: Vec::new(), instance: instance.to_string() }
    }

    /// Replaces (or adds) option `key` with `value`, given on the command line as `option`
    /// (`--disk`). Errors about the key name the option; a path in it is relative to the working
    /// directory.
    pub fn set_override(&mut self, key: &str, value: toml::Value, option: &'static str) {
        self.overrides.retain(|(k, _, _)| k != key);
        self.overrides.push((key.to_string(), value, option));
    }

    /// The command-line option that overrides `key`, if one does.
    pub fn override_of(&self, key: &str) -> Option<&'static str> {
        self.overrides.iter().find(|(k, _, _)| k == key).map(|(_, _, o)| *o)
    }

    /// The machine file these options come from.
    pub fn file(&self) -> &SourceFile {
        &self.file
    }

    /// Resolves the path `p` that option `key` holds: relative to the machine file's directory
    /// when it comes from the file, to the working directory when it comes from the command line.
    pub fn resolve(&self, key: &str, p: impl AsRef<Path>) -> PathBuf {
        let p = p.as_ref();
        if p.is_absolute() || self.override_of(key).is_some() {
            p.to_path_buf()
        } else {
            self.file.dir().join(p)
        }
    }

    /// Parses the options as `T` (which should use `#[serde(deny_unknown_fields)]`). Errors name
    /// the file, the line of the offending key or value, the instance and the field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let (table, span) = self.table()?;
        T::deserialize(Deserializer::from(Spanned::new(span, table))).map_err(|e| {
            let message = e.message().trim().to_string();
            let field = missing_field(&message).or_else(|| self.field_at(e.span()));
            let mut err = self.file.error(e.span(), message).instance(&self.instance);
            if let Some(o) = field.as_deref().and_then(|f| self.override_of(f)) {
                err = err.option(o);
            }
            err.field = field;
            err
        })
    }

    /// An error about option `field` of this instance, pointing at its line when it is in the file.
    pub fn error(&self, field: &str, message: impl Into<String>) -> ConfigError {
        if let Some(o) = self.override_of(field) {
            return self.file.error(None, message).instance(&self.instance).field(field).option(o);
        }
        let span = self
            .table()
            .ok()
            .and_then(|(t, _)| t.iter().find(|(k, _)| k.get_ref().as_ref() == field).map(|(k, _)| k.span()));
        self.file.error(span, message).instance(&self.instance).field(field)
    }

    fn field_at(&self, span: Option<Range<usize>>) -> Option<String> {
        let span = span?;
        let (t, _) = self.table().ok()?;
        t.iter()
            .find(|(k, v)| {
                let (ks, vs) = (k.span(), v.span());
                (ks.start <= span.start && span.start < ks.end.max(ks.start + 1))
                    || (vs.start <= span.start && span.start < vs.end.max(vs.start + 1))
            })
            .map(|(k, _)| k.get_ref().to_string())
    }

    fn table(&self) -> Result<(DeTable<'_>, Range<usize>), ConfigError> {
        let mut table = DeTable::new();
        let mut span = 0..0;
        if let Some(index) = self.index {
            let doc = DeTable::parse(&self.file.text).map_err(|e| self.file.error(e.span(), e.message()))?;
            let devices = doc.get_ref().iter().find(|(k, _)| k.get_ref() == "device").map(|(_, v)| v);
            let entry = devices.and_then(|d| match d.get_ref() {
                DeValue::Array(a) => a.get(index).cloned(),
                _ => None,
            });
            if let Some(entry) = entry {
                span = entry.span();
                if let DeValue::Table(t) = entry.into_inner() {
                    table = t;
                }
            }
            table = table.into_iter().filter(|(k, _)| !self.common.contains(&k.get_ref().as_ref())).collect();
        }
        for (k, v, _) in &self.overrides {
            let v = match v {
                toml::Value::String(s) => DeValue::String(Cow::Owned(s.clone())),
                toml::Value::Boolean(b) => DeValue::Boolean(*b),
                other => DeValue::String(Cow::Owned(other.to_string())),
            };
            table = table.into_iter().filter(|(key, _)| key.get_ref() != k).collect();
            table.insert(Spanned::new(0..0, Cow::Owned(k.clone())), Spanned::new(0..0, v));
        }
        Ok((table, span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Blk {
        image: String,
        #[serde(default)]
        read_only: bool,
    }

    const COMMON: &[&str] = &["name", "kind", "base", "irq"];

    fn file(text: &str) -> Arc<SourceFile> {
        SourceFile::new("m.toml", text)
    }

    #[test]
    fn parses_options_without_common_keys() {
        let f = file("[[device]]\nname = \"a\"\nkind = \"x\"\n\n[[device]]\nname = \"d\"\nkind = \"blk\"\nimage = \"r.img\"\nread-only = true\n");
        let b: Blk = Params::new(f, Some(1), COMMON, "d").parse().unwrap();
        assert_eq!((b.image.as_str(), b.read_only), ("r.img", true));
    }

    #[test]
    fn unknown_field_names_line_and_field() {
        let f = file("[[device]]\nname = \"d\"\nkind = \"blk\"\nimage = \"r.img\"\nbaud = 3\n");
        let e = Params::new(f, Some(0), COMMON, "d").parse::<Blk>().unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert_eq!(e.field.as_deref(), Some("baud"), "{e}");
        assert!(e.to_string().starts_with("m.toml:5: device \"d\": field \"baud\": unknown field"), "{e}");
    }

    #[test]
    fn wrong_type_names_line_and_field() {
        let f = file("[[device]]\nname = \"d\"\nkind = \"blk\"\nimage = \"r.img\"\nread-only = \"yes\"\n");
        let e = Params::new(f, Some(0), COMMON, "d").parse::<Blk>().unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(5), Some("read-only")), "{e}");
    }

    #[test]
    fn missing_field_names_the_field() {
        let f = file("[[device]]\nname = \"d\"\nkind = \"blk\"\nread-only = true\n");
        let e = Params::new(f, Some(0), COMMON, "d").parse::<Blk>().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("image"), "{e}");
        assert!(e.to_string().contains("device \"d\": field \"image\": missing field"), "{e}");
        assert_eq!(missing_field("missing field `kind`"), Some("kind".to_string()));
        assert_eq!(missing_field("unknown field `kind`"), None);
    }

    #[test]
    fn overrides_replace_options() {
        let f = file("[[device]]\nname = \"d\"\nkind = \"blk\"\nimage = \"r.img\"\n");
        let mut p = Params::new(f, Some(0), COMMON, "d");
        assert_eq!(p.resolve("image", "x.img"), PathBuf::from("./x.img"));
        p.set_override("image", toml::Value::String("other.img".into()), "--disk");
        assert_eq!(p.parse::<Blk>().unwrap().image, "other.img");
        // a command-line path is relative to the working directory, and errors name the option
        assert_eq!(p.resolve("image", "x.img"), PathBuf::from("x.img"));
        let e = p.error("image", "no such file");
        assert_eq!((e.line, e.option), (None, Some("--disk")));
        assert_eq!(e.to_string(), "--disk (command line, machine m.toml): device \"d\": field \"image\": no such file");
    }
}
