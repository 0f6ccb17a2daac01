//! Running the steps of a plan in dependency order on a few threads.

use std::sync::{Condvar, Mutex, PoisonError};

use super::types::ModuleStep;

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Loaded,
    Already,
    Builtin,
    Failed(String),
}

struct State {
    /// Steps each step still waits for.
    waiting: Vec<usize>,
    /// A failed hard dependency, by name.
    failed_dep: Vec<Option<String>>,
    /// Steps whose waits are over and that have not started: taken lowest
    /// index first. Flags, not a BTreeSet: plans are a few hundred steps at
    /// most, and the set's code costs dist/init 4 KiB.
    ready: Vec<bool>,
    outcomes: Vec<Option<Outcome>>,
    finished: usize,
}

/// Runs `run` for every step once all its earlier `deps` and `after` steps
/// finished, on `workers` threads (the calling thread is one of them).
/// Edges to the step itself or to later steps break the plan's order
/// invariant and are ignored. A step whose hard dependency failed is not
/// run: `report` tells of it (the loader's message, passed in so this file
/// does not import the loader that calls it). Returns the outcomes in plan order.
pub(super) fn schedule(
    steps: &[ModuleStep],
    workers: usize,
    run: &(dyn Fn(&ModuleStep) -> Outcome + Sync),
    report: fn(&ModuleStep, &str),
) -> Vec<Outcome> {
    let n = steps.len();
    // dependents[i]: (j, hard) for each step j waiting for i.
    let mut dependents: Vec<Vec<(usize, bool)>> = vec![Vec::new(); n];
    let mut waiting = vec![0; n];
    for (j, step) in steps.iter().enumerate() {
        let hard = step.deps.iter().map(|&i| (i, true));
        let soft = step.after.iter().map(|&i| (i, false));
        let mut seen = Vec::new();
        for (i, is_hard) in hard.chain(soft) {
            if i < j && !seen.contains(&i) {
                seen.push(i);
                dependents[i].push((j, is_hard));
                waiting[j] += 1;
            }
        }
    }
    let ready = waiting.iter().map(|&w| w == 0).collect();
    let state = Mutex::new(State {
        waiting,
        failed_dep: vec![None; n],
        ready,
        outcomes: vec![None; n],
        finished: 0,
    });
    let wake = Condvar::new();

    let worker = || {
        let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if st.finished == n {
                wake.notify_all();
                return;
            }
            let Some(i) = st.ready.iter().position(|&r| r) else {
                st = wake.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            st.ready[i] = false;
            let failed_dep = st.failed_dep[i].clone();
            drop(st);
            let outcome = match failed_dep {
                Some(dep) => {
                    let e = format!("not loaded: dependency {dep} failed");
                    report(&steps[i], &e);
                    Outcome::Failed(e)
                }
                None => run(&steps[i]),
            };
            st = state.lock().unwrap_or_else(PoisonError::into_inner);
            let failed = matches!(outcome, Outcome::Failed(_));
            st.outcomes[i] = Some(outcome);
            st.finished += 1;
            for &(j, hard) in &dependents[i] {
                if hard && failed && st.failed_dep[j].is_none() {
                    st.failed_dep[j] = Some(steps[i].name.clone());
                }
                st.waiting[j] -= 1;
                if st.waiting[j] == 0 {
                    st.ready[j] = true;
                }
            }
            wake.notify_all();
        }
    };
    if workers <= 1 {
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 1..workers {
                s.spawn(worker);
            }
            worker();
        });
    }
    let st = state.into_inner().unwrap_or_else(PoisonError::into_inner);
    st.outcomes
        .into_iter()
        .map(|o| o.expect("every step finished"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, deps: &[usize], after: &[usize]) -> ModuleStep {
        ModuleStep {
            name: name.into(),
            path: Some(name.into()),
            params: String::new(),
            reason: "test".into(),
            deps: deps.to_vec(),
            after: after.to_vec(),
            required: false,
        }
    }

    #[test]
    fn schedule_ignores_edges_to_later_steps() {
        let steps = vec![step("a", &[1], &[0]), step("b", &[], &[])];
        let out = schedule(&steps, 2, &|_| Outcome::Loaded, |_, _| {});
        assert_eq!(out, [Outcome::Loaded, Outcome::Loaded]);
        assert!(schedule(&[], 4, &|_| Outcome::Loaded, |_, _| {}).is_empty());
    }

    #[test]
    fn failures_propagate_through_hard_edges_only() {
        let steps = vec![
            step("a", &[], &[]),
            step("b", &[0], &[]),
            step("c", &[1], &[]),
            step("d", &[], &[0]),
        ];
        for workers in [1, 3] {
            let out = schedule(
                &steps,
                workers,
                &|s| {
                    if s.name == "a" {
                        Outcome::Failed("boom".into())
                    } else {
                        Outcome::Loaded
                    }
                },
                |_, _| {},
            );
            assert_eq!(
                out,
                [
                    Outcome::Failed("boom".into()),
                    Outcome::Failed("not loaded: dependency a failed".into()),
                    Outcome::Failed("not loaded: dependency b failed".into()),
                    Outcome::Loaded,
                ]
            );
        }
    }

    #[test]
    fn ready_steps_run_lowest_index_first_and_repeated_edges_count_once() {
        // z is ready from the start, y only after x: plan order still wins.
        let steps = vec![
            step("x", &[], &[]),
            step("y", &[0, 0], &[0]),
            step("z", &[], &[]),
        ];
        let order = Mutex::new(Vec::new());
        let out = schedule(
            &steps,
            1,
            &|s| {
                order.lock().unwrap().push(s.name.clone());
                Outcome::Loaded
            },
            |_, _| {},
        );
        assert_eq!(out, [Outcome::Loaded, Outcome::Loaded, Outcome::Loaded]);
        assert_eq!(order.into_inner().unwrap(), ["x", "y", "z"]);
    }
}
