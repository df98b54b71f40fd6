//! Reads Rust sources: every `sql!` statement with its text, and every raw SQL call whose text
//! does not come from one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use syn::visit::Visit;
use syn::{Expr, ExprMacro, FnArg, Item, Pat, Signature, Stmt};

/// A `sql!` statement: where it is written and its text (fragments filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub file: PathBuf,
    pub line: usize,
    pub text: String,
}

/// Something wrong in the code itself, before any database is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Raw SQL that is not a `sql!` statement and cannot be: each names where it is (the file,
/// relative to the workspace root, and the function) and why it is built at run time.
pub const DYNAMIC: &[(&str, &str, &str)] = &[
    (
        "migrations/src/lib.rs",
        "ensure_database",
        "CREATE DATABASE names the database, which cannot be a bind parameter (the name is \
         checked to be letters, digits and `_` first)",
    ),
    (
        "crates/testkit/src/lib.rs",
        "create",
        "CREATE DATABASE of a test's own database, a generated name (no bind parameter there)",
    ),
    (
        "crates/testkit/src/lib.rs",
        "drop",
        "DROP DATABASE of a test's own database, a generated name (no bind parameter there)",
    ),
    (
        "tools/sql-check/src/prepare.rs",
        "prepare",
        "PREPARE of each statement under check, every one of them collected from a `sql!`",
    ),
];

/// Source files the check skips, with why: the migrations change the schema (DDL, which cannot
/// be prepared); the check applies them to its database, and `migrations/tests/roundtrip.rs`
/// rolls them back.
fn skipped(relative: &Path) -> bool {
    let text = relative.to_string_lossy();
    text.starts_with("migrations/src/m") && text.ends_with(".rs")
}

/// Every non-test `.rs` file under `root`'s member directories (`crates`, `services`,
/// `migrations`, `tools`): not under a `tests`, `benches`, `examples` or `target` directory,
/// nor a skipped migration, sorted. `tests/system` is outside these directories.
pub fn source_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for top in ["crates", "services", "migrations", "tools"] {
        walk(&root.join(top), &mut files)?;
    }
    files.retain(|f| !skipped(f.strip_prefix(root).unwrap_or(f)));
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !matches!(
                name,
                "tests" | "benches" | "examples" | "target" | "node_modules"
            ) {
                walk(&path, files)?;
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// The statements and findings of the files given as (path, source), the path as they are
/// named (relative to the workspace root, which is also how [`DYNAMIC`] names files). A
/// helper's SQL parameter counts as checked when every call of it, in any of these files,
/// passes a `sql!` statement.
pub fn collect(sources: &[(PathBuf, String)]) -> (Vec<Statement>, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut parsed = Vec::new();
    for (file, source) in sources {
        match syn::parse_file(source) {
            Ok(tree) => parsed.push((file, tree)),
            Err(e) => {
                let line = e.span().start().line;
                findings.push(finding(file, line, format!("does not parse: {e}")));
            }
        }
    }
    let mut items = Items {
        fragments: vec![HashMap::new(); parsed.len()],
        ..Items::default()
    };
    for (index, (_, tree)) in parsed.iter().enumerate() {
        items.file = index;
        items.visit_file(tree);
    }
    let mut statements = Vec::new();
    for (index, mac) in &items.sql_macros {
        let file = parsed[*index].0;
        match statement_text(mac, &items.fragments[*index]) {
            Ok(text) => statements.push(Statement {
                file: file.clone(),
                line: line_of(mac),
                text,
            }),
            Err(message) => findings.push(finding(file, line_of(mac), message)),
        }
    }
    let mut listed_and_found = vec![false; DYNAMIC.len()];
    for site in &items.raw_sites {
        let function = &items.functions[site.function];
        let file = parsed[function.file].0;
        let file_name = slashed(file);
        let listed = DYNAMIC
            .iter()
            .position(|(f, name, _)| *f == file_name && function.signature.ident == name);
        if let Some(entry) = listed {
            listed_and_found[entry] = true;
        } else if !items.checked(site.sql, site.function, 0) {
            findings.push(finding(
                file,
                site.line,
                format!(
                    "the SQL of `{}` in `{}` is not a `sql!` statement (write it as one, or \
                     list it in sql-check's DYNAMIC with the reason)",
                    site.call, function.signature.ident
                ),
            ));
        }
    }
    // A listed function that no longer builds SQL at run time leaves the list.
    for (entry, (file, name, _)) in DYNAMIC.iter().enumerate() {
        let read = parsed.iter().any(|(f, _)| slashed(f) == *file);
        if read && !listed_and_found[entry] {
            findings.push(finding(
                Path::new(file),
                0,
                format!("`{name}` is listed in sql-check's DYNAMIC but builds no raw SQL"),
            ));
        }
    }
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    (statements, findings)
}

/// A path as [`DYNAMIC`] writes it.
fn slashed(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

fn finding(file: &Path, line: usize, message: String) -> Finding {
    Finding {
        file: file.to_owned(),
        line,
        message,
    }
}

fn line_of(mac: &syn::Macro) -> usize {
    mac.path
        .segments
        .first()
        .map_or(0, |s| s.ident.span().start().line)
}

/// Whether a macro is `sql!` (or `common::sql!`).
fn is_sql(mac: &syn::Macro) -> bool {
    mac.path.segments.last().is_some_and(|s| s.ident == "sql")
}

/// The text of `sql!("...")`, or of `sql!("... {NAME} ...", NAME)` with each named constant
/// (a `const NAME: &str = "..."` of the file) filled in.
fn statement_text(mac: &syn::Macro, fragments: &HashMap<String, String>) -> Result<String, String> {
    let parts = mac
        .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated)
        .map_err(|e| format!("`sql!` does not parse: {e}"))?;
    let mut parts = parts.into_iter();
    let Some(Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(text),
        ..
    })) = parts.next()
    else {
        return Err("`sql!` takes a string literal first".into());
    };
    let text = text.value();
    let names = parts
        .map(|part| match part {
            Expr::Path(p) if p.path.get_ident().is_some() => {
                Ok(p.path.segments[0].ident.to_string())
            }
            _ => Err("`sql!` names its fragments by their constants' names".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() {
        return Ok(text);
    }
    fill(&text, &names, fragments)
}

/// `text` as `format!` makes it with `names` bound to their constants.
fn fill(
    text: &str,
    names: &[String],
    fragments: &HashMap<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if !names.contains(&name) {
                    return Err(format!("`sql!` fills `{{{name}}}` without naming it"));
                }
                let fragment = fragments.get(&name).ok_or_else(|| {
                    format!("`{name}` is not a `const {name}: &str = \"...\"` of this file")
                })?;
                out.push_str(fragment);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A function of the file (free or in an `impl`), outside test code.
struct Function<'a> {
    file: usize,
    signature: &'a Signature,
    block: &'a syn::Block,
}

/// A raw SQL call: the expression that gives its text, in which function.
struct RawSite<'a> {
    call: &'static str,
    sql: &'a Expr,
    function: usize,
    line: usize,
}

/// A call of a function by name, with its arguments (a method call's without the
/// receiver), in which function.
struct Call<'a> {
    callee: String,
    method: bool,
    args: Vec<&'a Expr>,
    function: usize,
}

#[derive(Default)]
struct Items<'a> {
    /// The file being read, an index into `fragments`.
    file: usize,
    /// Each file's `const NAME: &str = "..."`.
    fragments: Vec<HashMap<String, String>>,
    /// Each `sql!` with its file.
    sql_macros: Vec<(usize, &'a syn::Macro)>,
    functions: Vec<Function<'a>>,
    raw_sites: Vec<RawSite<'a>>,
    calls: Vec<Call<'a>>,
    current: Option<usize>,
}

/// `#[cfg(test)]` or `#[test]`, and tests written with a runtime's attribute (`#[tokio::test]`).
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        if path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        path.is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

impl<'a> Items<'a> {
    fn function(&mut self, signature: &'a Signature, block: &'a syn::Block) {
        let outer = self.current.replace(self.functions.len());
        self.functions.push(Function {
            file: self.file,
            signature,
            block,
        });
        self.visit_block(block);
        self.current = outer;
    }

    /// Whether `expr`, evaluated in function `function`, is the text of `sql!` statements only:
    /// a `sql!`; a borrow or parenthesis of one; an `if`, `match` or block each of whose results
    /// is one; a local bound only to such; or a parameter that every call of the function passes one.
    fn checked(&self, expr: &Expr, function: usize, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        let next = depth + 1;
        match expr {
            Expr::Macro(ExprMacro { mac, .. }) => is_sql(mac),
            Expr::Reference(r) => self.checked(&r.expr, function, next),
            Expr::Paren(p) => self.checked(&p.expr, function, next),
            Expr::Group(g) => self.checked(&g.expr, function, next),
            Expr::Block(b) => self.block_checked(&b.block, function, next),
            Expr::If(i) => {
                self.block_checked(&i.then_branch, function, next)
                    && i.else_branch
                        .as_ref()
                        .is_some_and(|(_, e)| self.checked(e, function, next))
            }
            Expr::Match(m) => m
                .arms
                .iter()
                .all(|arm| self.checked(&arm.body, function, next)),
            Expr::Path(p) => match p.path.get_ident() {
                Some(name) => self.name_checked(&name.to_string(), function, next),
                None => false,
            },
            _ => false,
        }
    }

    fn block_checked(&self, block: &syn::Block, function: usize, depth: usize) -> bool {
        match block.stmts.last() {
            Some(Stmt::Expr(e, None)) => self.checked(e, function, depth),
            Some(Stmt::Macro(m)) if m.semi_token.is_none() => is_sql(&m.mac),
            _ => false,
        }
    }

    /// A local of `function` bound only to checked texts, or a parameter every call of
    /// `function` (by its name, in any file) passes a checked text.
    fn name_checked(&self, name: &str, function: usize, depth: usize) -> bool {
        let f = &self.functions[function];
        let mut lets = Lets {
            name,
            inits: Vec::new(),
            other: false,
        };
        lets.visit_block(f.block);
        if lets.other {
            return false;
        }
        if !lets.inits.is_empty() {
            return lets
                .inits
                .iter()
                .all(|init| self.checked(init, function, depth));
        }
        let receiver = f.signature.receiver().is_some();
        let Some(position) = f
            .signature
            .inputs
            .iter()
            .filter(|input| matches!(input, FnArg::Typed(_)))
            .position(|input| match input {
                FnArg::Typed(t) => matches!(&*t.pat, Pat::Ident(i) if i.ident == name),
                FnArg::Receiver(_) => false,
            })
        else {
            return false;
        };
        let callee = f.signature.ident.to_string();
        let calls: Vec<_> = self
            .calls
            .iter()
            .filter(|c| c.callee == callee && c.method == receiver)
            .collect();
        !calls.is_empty()
            && calls.iter().all(|c| {
                c.args
                    .get(position)
                    .is_some_and(|arg| self.checked(arg, c.function, depth))
            })
    }
}

/// The initialisers of `let name = ...` in a function; `other` when `name` is bound some other
/// way (a pattern, a `let` without a value).
struct Lets<'a, 'n> {
    name: &'n str,
    inits: Vec<&'a Expr>,
    other: bool,
}

impl<'a> Visit<'a> for Lets<'a, '_> {
    fn visit_local(&mut self, local: &'a syn::Local) {
        let binds = |pat: &Pat| matches!(pat, Pat::Ident(i) if i.ident == self.name);
        match (&local.pat, &local.init) {
            (Pat::Ident(_), Some(init)) if binds(&local.pat) => self.inits.push(&init.expr),
            (Pat::Type(t), Some(init)) if binds(&t.pat) => self.inits.push(&init.expr),
            (pat, _) => {
                let mut names = Names {
                    name: self.name,
                    found: false,
                };
                names.visit_pat(pat);
                self.other |= names.found;
            }
        }
        syn::visit::visit_local(self, local);
    }
}

struct Names<'n> {
    name: &'n str,
    found: bool,
}

impl Visit<'_> for Names<'_> {
    fn visit_pat_ident(&mut self, i: &syn::PatIdent) {
        self.found |= i.ident == self.name;
    }
}

impl<'a> Visit<'a> for Items<'a> {
    fn visit_item(&mut self, item: &'a Item) {
        let attrs = match item {
            Item::Mod(m) => &m.attrs,
            Item::Fn(f) => &f.attrs,
            Item::Impl(i) => &i.attrs,
            Item::Const(c) => &c.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_const(&mut self, item: &'a syn::ItemConst) {
        if let Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = &*item.expr
        {
            self.fragments[self.file].insert(item.ident.to_string(), text.value());
        }
        syn::visit::visit_item_const(self, item);
    }

    fn visit_item_fn(&mut self, item: &'a syn::ItemFn) {
        self.function(&item.sig, &item.block);
    }

    fn visit_impl_item_fn(&mut self, item: &'a syn::ImplItemFn) {
        if !is_test(&item.attrs) {
            self.function(&item.sig, &item.block);
        }
    }

    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        if is_sql(mac) {
            self.sql_macros.push((self.file, mac));
        }
    }

    fn visit_expr_call(&mut self, call: &'a syn::ExprCall) {
        if let (Expr::Path(path), Some(function)) = (&*call.func, self.current) {
            let segments: Vec<String> = path
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let last = segments.last().map(String::as_str).unwrap_or_default();
            let statement = segments.len() >= 2 && segments[segments.len() - 2] == "Statement";
            let raw = match last {
                "from_sql_and_values" => Some(("from_sql_and_values", 1)),
                "from_string" if statement => Some(("Statement::from_string", 1)),
                _ => None,
            };
            if let Some((name, position)) = raw {
                self.raw(
                    name,
                    call.args.iter().nth(position),
                    function,
                    line_of_path(path),
                );
            }
            self.calls.push(Call {
                callee: last.to_owned(),
                method: false,
                args: call.args.iter().collect(),
                function,
            });
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'a syn::ExprMethodCall) {
        if let Some(function) = self.current {
            if call.method == "execute_unprepared" {
                let line = call.method.span().start().line;
                self.raw("execute_unprepared", call.args.first(), function, line);
            }
            self.calls.push(Call {
                callee: call.method.to_string(),
                method: true,
                args: call.args.iter().collect(),
                function,
            });
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

fn line_of_path(path: &syn::ExprPath) -> usize {
    path.path
        .segments
        .last()
        .map_or(0, |s| s.ident.span().start().line)
}

impl<'a> Items<'a> {
    fn raw(&mut self, call: &'static str, sql: Option<&'a Expr>, function: usize, line: usize) {
        if let Some(sql) = sql {
            self.raw_sites.push(RawSite {
                call,
                sql,
                function,
                line,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str) -> (Vec<Statement>, Vec<Finding>) {
        collect(&[(PathBuf::from("crates/db/src/x.rs"), source.to_owned())])
    }

    fn messages(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{}:{}: {}", f.file.display(), f.line, f.message))
            .collect()
    }

    #[test]
    fn a_statement_is_collected_with_its_line_and_fragments() {
        let (statements, findings) = run(r#"
const COLUMNS: &str = "id, name";

fn find(db: &Db) {
    Statement::from_sql_and_values(DbBackend::Postgres, sql!("SELECT 1"), []);
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!("SELECT {COLUMNS} FROM t WHERE x = '{{}}'", COLUMNS),
        [],
    );
}
"#);
        assert_eq!(messages(&findings), Vec::<String>::new());
        let texts: Vec<_> = statements
            .iter()
            .map(|s| (s.line, s.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                (5, "SELECT 1"),
                (8, "SELECT id, name FROM t WHERE x = '{}'")
            ]
        );
    }

    #[test]
    fn raw_sql_that_is_not_a_sql_statement_is_reported() {
        let (_, findings) = run(r#"
fn literal(db: &Db) {
    Statement::from_sql_and_values(DbBackend::Postgres, "SELECT 1", []);
}

fn formatted(db: &Db, table: &str) {
    db.execute_unprepared(&format!("DELETE FROM {table}"));
}

fn string(db: &Db) {
    sea_orm::Statement::from_string(DbBackend::Postgres, "SELECT 2");
}

#[cfg(test)]
mod tests {
    fn in_a_test(db: &Db) {
        db.execute_unprepared("SELECT 3");
    }
}
"#);
        assert_eq!(
            messages(&findings),
            [
                "crates/db/src/x.rs:3: the SQL of `from_sql_and_values` in `literal` is not a \
                 `sql!` statement (write it as one, or list it in sql-check's DYNAMIC with the \
                 reason)",
                "crates/db/src/x.rs:7: the SQL of `execute_unprepared` in `formatted` is not a \
                 `sql!` statement (write it as one, or list it in sql-check's DYNAMIC with the \
                 reason)",
                "crates/db/src/x.rs:11: the SQL of `Statement::from_string` in `string` is not \
                 a `sql!` statement (write it as one, or list it in sql-check's DYNAMIC with \
                 the reason)",
            ]
        );
    }

    #[test]
    fn sql_reaching_the_call_through_locals_branches_and_helpers_is_checked() {
        let (statements, findings) = run(r#"
const COLUMNS: &str = "id";

fn helper(db: &Db, sql: &str) {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, []);
}

fn callers(db: &Db, lock: bool) {
    helper(db, sql!("SELECT 1"));
    let sql = if lock { sql!("SELECT 2 FOR UPDATE") } else { sql!("SELECT 2") };
    helper(db, &sql);
    let chosen = match lock {
        true => sql!("SELECT {COLUMNS} FROM t", COLUMNS),
        false => sql!("SELECT 3"),
    };
    db.execute_unprepared(&chosen);
}
"#);
        assert_eq!(messages(&findings), Vec::<String>::new());
        assert_eq!(statements.len(), 5);
    }

    #[test]
    fn a_helper_is_unchecked_when_one_caller_passes_other_text() {
        let (_, findings) = run(r#"
fn helper(db: &Db, sql: &str) {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, []);
}

fn good(db: &Db) {
    helper(db, sql!("SELECT 1"));
}

fn bad(db: &Db, table: &str) {
    helper(db, &format!("SELECT * FROM {table}"));
}
"#);
        assert_eq!(findings.len(), 1, "{:?}", messages(&findings));
        assert_eq!(findings[0].line, 3);
    }

    #[test]
    fn a_fragment_must_be_a_named_constant_of_the_file() {
        let (_, findings) = run(r#"
fn f(columns: &str) {
    let a = sql!("SELECT {columns} FROM t", columns);
    let b = sql!("SELECT {COLUMNS} FROM t", OTHER);
}
"#);
        assert_eq!(
            messages(&findings),
            [
                "crates/db/src/x.rs:3: `columns` is not a `const columns: &str = \"...\"` of \
                 this file",
                "crates/db/src/x.rs:4: `sql!` fills `{COLUMNS}` without naming it",
            ]
        );
    }
}
