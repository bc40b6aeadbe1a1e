//! tmp
fn main() {
    let base = wschaos::scenario::load("scenarios/swarm/hunt.toml".as_ref()).unwrap();
    let seed: u64 = std::env::args().nth(1).unwrap().parse().unwrap();
    let s = wschaos::explore::swarm(&base, seed);
    println!("settle {:?}", s.settle);
    for g in &s.clients {
        println!("{} {:?}", g.name, g.policy);
    }
    for st in &s.timeline {
        println!("{:?} {:?} {:?}", st.at, st.on, st.action);
    }
}
