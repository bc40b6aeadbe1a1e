//! tmp
fn main() {
    let base = wschaos::scenario::load("scenarios/swarm/hunt.toml".as_ref()).unwrap();
    let s = wschaos::explore::swarm(&base, 101625);
    println!("settle {:?}", s.settle);
    for g in &s.clients {
        println!("{} {:?}", g.name, g.policy);
    }
    for st in &s.timeline {
        println!("{:?} {:?}", st.at, st.action);
    }
}
