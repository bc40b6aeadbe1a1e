//! The results table, printed as Markdown so it can be pasted into the README.

/// One measured figure against its target.
pub struct Row {
    pub figure: String,
    pub target: String,
    pub measured: String,
    /// `Some(true)` met, `Some(false)` missed, `None` no target or not measured.
    pub met: Option<bool>,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    pub fn add(&mut self, figure: &str, target: &str, measured: String, met: Option<bool>) {
        let row = Row {
            figure: figure.to_string(),
            target: target.to_string(),
            measured,
            met,
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
        println!();
        println!("| figure | target | measured | met |");
        println!("|---|---|---|---|");
        for r in &self.rows {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            println!("| {} | {} | {} | {met} |", r.figure, r.target, r.measured);
        }
        println!();
        println!(
            "measured {} on {} cores with `cargo bench`",
            date.trim(),
            std::thread::available_parallelism().map_or(1, usize::from)
        );
    }
}
