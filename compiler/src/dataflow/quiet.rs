//! Operators told of frontier changes only while they hold a capability
//! (timely's `FrontierInterest::IfCapability`), where timely's
//! `unary_frontier` tells them of every change.
//!
//! An operator that is told is scheduled whenever its input frontier moves,
//! that is at the end of every round, reached by the round or not: in a
//! round of one change (one floating IP, one port) the groupings and
//! arrangements it does not reach were most of the operators run, for
//! nothing. Those here hold a capability exactly while they hold updates
//! of an epoch not complete yet, which is when the frontier matters to them.
//!
//! [`arrange_quiet`] is differential's `arrange_core` (same batches, same
//! trace, same output) on [`unary_quiet`]: an arrangement a round does not
//! reach neither runs nor seals an empty batch into its trace; the trace's
//! upper stays where its last batch left it, and its next batch spans from
//! there (batches stay contiguous, as traces require; the joins reading it
//! only ever ask for what its batches have covered). The spine still asks
//! for the operator to be scheduled when it has merge work to do (its
//! activator), and the operator seals whatever frontier it sees whenever
//! it runs, as differential's does.

use differential_dataflow::batcher::Batcher;
use differential_dataflow::logging::Logger;
use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::{Description, Span, Trace};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{ParallelizationContract, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{
    InputHandleCore, OperatorInfo, OutputBuilder, OutputBuilderSession,
};
use timely::dataflow::operators::CapabilitySet;
use timely::dataflow::Stream;
use timely::progress::frontier::MutableAntichain;
use timely::progress::operate::FrontierInterest;
use timely::progress::{Antichain, Stamp, Timestamp};
use timely::{Container, ContainerBuilder, PartialOrder};

use super::Time;

/// Arranges `stream` into a trace of type `Tr` with batcher `batcher`,
/// named `name`; records stay in this worker (timely's `Pipeline`). Each
/// container received is turned by `prepare` into the batcher's input
/// (the records as the trace keys them), in the operator itself: no
/// operator and channel of its own in front of every arrangement.
pub(super) fn arrange_quiet<'s, C, C2, Ba, Tr>(
    stream: Stream<'s, Time, C>,
    name: &str,
    mut prepare: impl FnMut(&mut C, &mut C2) + 'static,
    batcher: impl FnOnce(Option<Logger>, usize) -> Ba,
) -> Arranged<'s, TraceAgent<Tr>>
where
    C: Container + Clone + 'static,
    C2: Default + 'static,
    Ba: Batcher<C2, Time = Time, Output: Into<Tr::Batch>> + 'static,
    Tr: Trace<Time = Time> + 'static,
{
    let scope = stream.scope();
    let mut reader = None;
    let batches =
        unary_quiet::<_, CapacityContainerBuilder<_>, _, _, _>(stream, Pipeline, name, |info| {
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
                .get::<differential_dataflow::trace::ExertionLogic>(
                    "differential/default_exert_logic",
                )
                .cloned()
            {
                trace.set_exert_logic(exert);
            }
            let (agent, mut writer) = TraceAgent::new(trace, info, logger);
            reader = Some(agent);
            // Capabilities for the lower envelope of the updates in `batcher`.
            let mut held = CapabilitySet::<Time>::new();
            // The upper of the last batch: the lower of the next one.
            let mut sealed = Antichain::from_elem(Time::minimum());
            let mut prepared = C2::default();
            move |input, frontier, output| {
                input.for_each(|cap, data| {
                    for c in cap.retain_stamp(0).iter() {
                        held.insert(c.clone());
                    }
                    prepare(data, &mut prepared);
                    batcher.insert(&mut prepared);
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
        // Set by the constructor, which the operator's build runs at once.
        trace: reader.expect("the arrangement's trace"),
    }
}

/// timely's `unary_frontier` with frontier interest `IfCapability`:
/// `constructor` gets the operator's description and returns the logic,
/// run on the input, its frontier and the output. The initial capability
/// is dropped: the logic keeps those of the data it holds.
pub(super) fn unary_quiet<'s, C, CB, P, B, L>(
    stream: Stream<'s, Time, C>,
    pact: P,
    name: &str,
    constructor: B,
) -> Stream<'s, Time, CB::Container>
where
    C: Container,
    CB: ContainerBuilder,
    P: ParallelizationContract<Time, C>,
    B: FnOnce(OperatorInfo) -> L,
    L: FnMut(
            &mut InputHandleCore<Time, C, P::Puller>,
            &MutableAntichain<Time>,
            &mut OutputBuilderSession<'_, Time, CB>,
        ) + 'static,
{
    let mut builder = OperatorBuilder::new(name.to_owned(), stream.scope());
    let info = builder.operator_info();
    let mut input = builder.new_input(stream, pact);
    builder.set_notify_for(0, FrontierInterest::IfCapability);
    let (output, out_stream) = builder.new_output();
    let mut output = OutputBuilder::<_, CB>::from(output);
    builder.build(move |_initial| {
        let mut logic = constructor(info);
        move |frontiers| logic(&mut input, &frontiers[0], &mut output.activate())
    });
    out_stream
}
