//! The results table, printed as Markdown so it can be pasted into the README.

/// One measured figure against its target.
pub struct Row {
    pub figure: String,
    pub target: String,
    pub measured: String,
    /// `Some(true)` met, `Some(false)` missed, `None` no target or not measured.
    pub met: Option<bool>,
    /// The command that measures it alone.
    pub command: String,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    section: String,
}

impl Table {
    /// The figures added next are measured alone by `cargo bench -- KEY`.
    pub fn section(&mut self, key: &str) {
        self.section = key.to_string();
    }

    pub fn add(&mut self, figure: &str, target: &str, measured: String, met: Option<bool>) {
        let row = Row {
            figure: figure.to_string(),
            target: target.to_string(),
            measured,
            met,
            command: format!("`cargo bench -- {}`", self.section),
        };
        eprintln!("  {:<58} {}", row.figure, row.measured);
        self.rows.push(row);
    }

    pub fn print(&self) {
        let date = std::process::Command::new("date")
            .arg("+%Y-%m-%d")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .unwrap_or_default();
        let date = date.trim();
        println!();
        println!("| figure | target | measured | met | date | command |");
        println!("|---|---|---|---|---|---|");
        for r in &self.rows {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            println!(
                "| {} | {} | {} | {met} | {date} | {} |",
                r.figure, r.target, r.measured, r.command
            );
        }
        println!();
        println!(
            "{} cores; every figure above from one `cargo bench` run",
            std::thread::available_parallelism().map_or(1, usize::from)
        );
    }
}
