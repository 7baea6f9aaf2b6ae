//! The arrangement operator of a single worker: differential's
//! `arrange_core` (same batches, same trace, same output), except that it
//! asks timely for frontier changes only while it holds updates of an
//! epoch not complete yet (`FrontierInterest::IfCapability`).
//!
//! Differential's operator is scheduled whenever its input frontier moves,
//! so every arrangement seals an empty batch into its trace at the end of
//! every round, reached by the round or not: in a round of one change
//! (one floating IP, one port) that is most of the operators run, for
//! nothing. Here an arrangement the round does not reach is not run; its
//! trace's upper stays where its last batch left it, and its next batch
//! spans from there (batches stay contiguous, as traces require; the joins
//! reading it only ever ask for what its batches have covered).
//!
//! The spine still asks for the operator to be scheduled when it has merge
//! work to do (its activator), and the operator seals whatever frontier it
//! sees whenever it runs, as differential's does.

use differential_dataflow::batcher::Batcher;
use differential_dataflow::logging::Logger;
use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::{Description, Span, Trace};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::{Capability, CapabilitySet};
use timely::dataflow::Stream;
use timely::progress::operate::FrontierInterest;
use timely::progress::{Antichain, Stamp, Timestamp};
use timely::{Container, PartialOrder};

use super::Time;

/// Arranges `stream` into a trace of type `Tr` with batcher `batcher`,
/// named `name`; records stay in this worker (timely's `Pipeline`).
pub(super) fn arrange_quiet<'s, C, Ba, Tr>(
    stream: Stream<'s, Time, C>,
    name: &str,
    batcher: impl FnOnce(Option<Logger>, usize) -> Ba,
) -> Arranged<'s, TraceAgent<Tr>>
where
    C: Container + Clone + 'static,
    Ba: Batcher<C, Time = Time, Output: Into<Tr::Batch>> + 'static,
    Tr: Trace<Time = Time> + 'static,
{
    let scope = stream.scope();
    let mut builder = OperatorBuilder::new(name.to_owned(), scope);
    let info = builder.operator_info();
    let mut input = builder.new_input(stream, Pipeline);
    builder.set_notify_for(0, FrontierInterest::IfCapability);
    let (output, batches) = builder.new_output();
    let mut output =
        OutputBuilder::<_, timely::container::CapacityContainerBuilder<_>>::from(output);

    let logger = scope
        .worker()
        .logger_for::<differential_dataflow::logging::DifferentialEventBuilder>(
            "differential/arrange",
        )
        .map(Into::into);
    let mut batcher = batcher(logger.clone(), info.global_id);
    let activator = Some(scope.activator_for(std::rc::Rc::clone(&info.address)));
    let mut trace = Tr::new(info.clone(), logger.clone(), activator);
    if let Some(exert) = scope
        .worker()
        .config()
        .get::<differential_dataflow::trace::ExertionLogic>("differential/default_exert_logic")
        .cloned()
    {
        trace.set_exert_logic(exert);
    }
    let (reader, mut writer) = TraceAgent::new(trace, info, logger);

    builder.build(move |_initial: Vec<Capability<Time>>| {
        // Capabilities for the lower envelope of the updates in `batcher`.
        let mut held = CapabilitySet::<Time>::new();
        // The upper of the last batch: the lower of the next one.
        let mut sealed = Antichain::from_elem(Time::minimum());
        move |frontiers| {
            let frontier = &frontiers[0];
            let mut output = output.activate();
            input.for_each(|cap, data| {
                for c in cap.retain_stamp(0).iter() {
                    held.insert(c.clone());
                }
                batcher.insert(data);
            });
            debug_assert!(PartialOrder::less_equal(
                &sealed.borrow(),
                &frontier.frontier()
            ));
            if sealed.borrow() != frontier.frontier() {
                let retired: CapabilitySet<Time> = held
                    .iter()
                    .filter(|c| !frontier.less_equal(c.time()))
                    .cloned()
                    .collect();
                if retired.is_empty() {
                    // Nothing before the frontier: an empty batch moves
                    // the trace's upper (not sent downstream).
                    writer.seal(frontier.frontier().to_owned());
                } else {
                    let upper = frontier.frontier().to_owned();
                    let desc = Description::new(
                        sealed.clone(),
                        upper.clone(),
                        Antichain::from_elem(Time::minimum()),
                    );
                    let (extracted, retained) = batcher.extract(upper.borrow());
                    let batch = Span::new(desc, extracted.map(Into::into));
                    let stamp: Stamp<Time> = retired.iter().map(|c| *c.time()).collect();
                    writer.insert(batch.clone(), stamp);
                    output.session(&retired).give(batch);
                    // Keep capabilities for the updates still held.
                    let mut kept = CapabilitySet::new();
                    for t in retained.iter() {
                        let c = held
                            .iter()
                            .find(|c| c.time().less_equal(t))
                            .expect("a held capability for every retained update");
                        kept.insert(c.delayed(t));
                    }
                    held = kept;
                }
                sealed = frontier.frontier().to_owned();
            }
            writer.exert();
        }
    });
    Arranged {
        stream: batches,
        trace: reader,
    }
}
