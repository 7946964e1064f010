//! The job consumer against Apache Kafka (the test's own broker, or the Kafka named by
//! `KAFKA_BOOTSTRAP`) and an embedded schema registry: change events encoded by our own
//! encoder reach a collecting test sink in batches, offsets are committed to the group
//! only after a write, and errors, retries, stored offsets and stops behave as promised.

mod common;
#[path = "job/support.rs"]
mod support;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use tributary_core::{ChangeEvent, FieldMap, Op, PartitionOffset, SinkError, SinkOp};
use tributary_kafka::job::{self, JobError, Subscription};
use tributary_kafka::producer::TxProducer;

#[tokio::test(flavor = "multi_thread")]
async fn batches_reach_the_sink_mapped_and_a_restart_resumes_after_the_commit() {
    let env = env().await;
    let topic = env.topic("cdc.public.items").await;
    let t = table(&topic, true);
    let mut events: Vec<(ChangeEvent, bool)> = (1..=5)
        .map(|i| (change(&t, Op::Create, i, 100 + i as u64), false))
        .collect();
    events.push((change(&t, Op::Update, 2, 200), false));
    events.push((change(&t, Op::Delete, 1, 201), false));
    events.push((change(&t, Op::Delete, 1, 201), true));
    env.produce(&events).await;

    let mut settings = env.settings(&topic, "connect-search");
    settings.fields = FieldMap {
        include: vec![],
        exclude: vec!["secret".into()],
        rename: vec![("name".into(), "title".into())],
    };
    let sink = TestSink::default();
    let job = env.start(settings.clone(), sink.clone());
    until("7 changes written", || sink.records().len() == 7).await;
    let m = job.metrics.clone();
    until("the batch is counted", || {
        m.records_consumed.load(Relaxed) == 8
    })
    .await;
    job.stop().await.unwrap();

    let records = sink.records();
    let ops: String = records.iter().map(|r| r.op_code).collect();
    assert_eq!(ops, "cccccud");
    match &records[5].op {
        SinkOp::Upsert {
            key, doc, schema, ..
        } => {
            assert_eq!(key.id(), "2");
            assert_eq!(json!(doc), json!({"id": 2, "title": "row 2"}));
            let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(names, ["id", "title"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&records[6].op, SinkOp::Delete { key } if key.id() == "1"));
    assert_eq!(records[6].offset, 6);
    let (_, offsets) = sink.written.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        offsets,
        [PartitionOffset {
            topic: topic.clone(),
            partition: 0,
            next: 8
        }]
    );
    assert_eq!((m.written('c'), m.written('u'), m.written('d')), (5, 1, 1));
    assert_eq!(m.records_ignored.load(Relaxed), 1, "the tombstone");
    assert_eq!(m.topics(), std::slice::from_ref(&topic));
    assert!(m.ms_behind_source().is_some());
    assert_eq!(committed(&env, &settings).await, [8]);

    env.produce(&[(change(&t, Op::Create, 6, 300), false)])
        .await;
    let again = TestSink::default();
    let job = env.start(settings.clone(), again.clone());
    until("the new change written", || !again.records().is_empty()).await;
    job.stop().await.unwrap();
    let records = again.records();
    assert_eq!(
        records.len(),
        1,
        "only what came after the committed offset: {records:?}"
    );
    assert_eq!(records[0].offset, 8);
    assert_eq!(committed(&env, &settings).await, [9]);
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_close_at_their_size_or_after_their_wait() {
    let env = env().await;
    let topic = env.topic("cdc.public.sized").await;
    let t = table(&topic, true);
    let events: Vec<_> = (1..=25)
        .map(|i| (change(&t, Op::Create, i, 100 + i as u64), false))
        .collect();
    env.produce(&events).await;
    let mut settings = env.settings(&topic, "sized");
    settings.batch_size = 10;
    settings.batch_max_wait = Duration::from_millis(800);
    let sink = TestSink::default();
    let job = env.start(settings, sink.clone());
    until("25 written", || sink.records().len() == 25).await;
    job.stop().await.unwrap();
    let sizes: Vec<usize> = sink
        .written
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _)| b.len())
        .collect();
    assert_eq!(sizes, [10, 10, 5]);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_below_the_sinks_stored_offsets_are_skipped_but_still_committed() {
    let env = env().await;
    let topic = env.topic("cdc.public.stored").await;
    let t = table(&topic, true);
    let events: Vec<_> = (1..=6)
        .map(|i| (change(&t, Op::Create, i, 100 + i as u64), false))
        .collect();
    env.produce(&events).await;
    let settings = env.settings(&topic, "stored");
    let stored = vec![PartitionOffset {
        topic: topic.clone(),
        partition: 0,
        next: 4,
    }];
    let sink = TestSink {
        stored: Some(stored),
        ..TestSink::default()
    };
    let job = env.start(settings.clone(), sink.clone());
    until("2 written", || sink.records().len() == 2).await;
    let m = job.metrics.clone();
    until("the batch is counted", || {
        m.records_consumed.load(Relaxed) == 6
    })
    .await;
    job.stop().await.unwrap();
    let offsets: Vec<i64> = sink.records().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [4, 5]);
    assert_eq!(m.records_ignored.load(Relaxed), 4);
    assert_eq!(committed(&env, &settings).await, [6]);
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_errors_retry_the_same_batch_and_a_definite_one_ends_the_job() {
    let env = env().await;
    let topic = env.topic("cdc.public.flaky").await;
    let t = table(&topic, true);
    env.produce(&[
        (change(&t, Op::Create, 1, 101), false),
        (change(&t, Op::Create, 2, 102), false),
    ])
    .await;
    let settings = env.settings(&topic, "flaky");
    let sink = TestSink::default();
    sink.script.lock().unwrap().extend([
        SinkError::Transient("target busy".into()),
        SinkError::Transient("target busy".into()),
    ]);
    let job = env.start(settings.clone(), sink.clone());
    until("written after retries", || sink.records().len() == 2).await;
    let m = job.metrics.clone();
    job.stop().await.unwrap();
    let attempts = sink.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts.iter().all(|a| *a == attempts[0]),
        "every attempt carries the same batch"
    );
    assert_eq!(m.retries.load(Relaxed), 2);
    assert_eq!(m.retry_reason(), None, "no longer retrying");
    assert_eq!(m.last_error().as_deref(), Some("target busy"));

    env.produce(&[(change(&t, Op::Create, 3, 103), false)])
        .await;
    let refusing = TestSink {
        always: Some(SinkError::Definite("mapping refused the document".into())),
        ..TestSink::default()
    };
    let job = env.start(settings.clone(), refusing);
    let err = tokio::time::timeout(T, job.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, JobError::Sink { reason } if reason.contains("mapping refused")),
        "{err}"
    );
    assert!(!tributary_core::Retry::is_transient(&err));
    assert_eq!(
        committed(&env, &settings).await,
        [2],
        "nothing committed for the refused batch"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_while_the_target_is_down_abandons_the_batch_uncommitted() {
    let env = env().await;
    let topic = env.topic("cdc.public.down").await;
    let t = table(&topic, true);
    env.produce(&[(change(&t, Op::Create, 1, 101), false)])
        .await;
    let settings = env.settings(&topic, "down");
    let sink = TestSink {
        always: Some(SinkError::Transient("connection refused".into())),
        ..TestSink::default()
    };
    let job = env.start(settings.clone(), sink.clone());
    let m = job.metrics.clone();
    until("retrying", || m.retries.load(Relaxed) >= 2).await;
    assert_eq!(
        m.retry_reason().as_deref(),
        Some("retrying: connection refused")
    );
    let started = Instant::now();
    job.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(committed(&env, &settings).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_records_end_the_job_naming_where_they_are() {
    let env = env().await;
    let topic = env.topic("cdc.public.json").await;
    env.send(&topic, Some(b"1"), Some(br#"{"id":1}"#)).await;
    let job = env.start(env.settings(&topic, "json"), TestSink::default());
    let err = tokio::time::timeout(T, job.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, JobError::Decode(_)), "{err:?}");
    assert!(text.contains("offset 0 of cdc.public.json[0]"), "{text}");
    assert!(text.contains("Avro converter"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keyless_changes_are_skipped_and_aborted_transactions_do_no_harm() {
    let env = env().await;
    let topic = env.topic("cdc.public.mixed").await;
    let keyless = table(&topic, false);
    let keyed = table(&topic, true);
    env.produce(&[
        (change(&keyless, Op::Create, 1, 101), false),
        (change(&keyless, Op::Truncate, 0, 102), false),
    ])
    .await;
    // A transaction that is aborted: a read_committed consumer may still be shown its
    // records by some brokers; the job must take them in its stride.
    let offsets_topic = env.topic("offsets-mixed").await;
    let mut tx = TxProducer::start(&env.kafka, "aborting", "aborting-group")
        .await
        .unwrap();
    let (k, v) = env.encode(&change(&keyed, Op::Create, 9, 103), false).await;
    tx.send(&topic, None, k.as_deref(), v.as_deref())
        .await
        .unwrap();
    tx.send(&offsets_topic, None, Some(b"k"), Some(b"v"))
        .await
        .unwrap();
    // The next instance of the transactional id aborts what the first left open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(tx);
    let _next = TxProducer::start(&env.kafka, "aborting", "aborting-group")
        .await
        .unwrap();
    env.produce(&[(change(&keyed, Op::Create, 2, 104), false)])
        .await;

    let sink = TestSink::default();
    let job = env.start(env.settings(&topic, "mixed"), sink.clone());
    until("the keyed change written", || {
        sink.records()
            .iter()
            .any(|r| r.offset >= 3 && r.op_code == 'c')
    })
    .await;
    let m = job.metrics.clone();
    job.stop().await.unwrap();
    assert_eq!(m.records_skipped.load(Relaxed), 1);
    let ops: Vec<char> = sink.records().iter().map(|r| r.op_code).collect();
    assert_eq!(ops.first(), Some(&'t'), "{ops:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_regex_subscription_picks_up_topics_created_later() {
    let env = env().await;
    let first = env.topic("rx.public.a").await;
    env.produce(&[(change(&table(&first, true), Op::Create, 1, 101), false)])
        .await;
    let mut settings = env.settings(&first, "regex");
    settings.subscription = Subscription::Regex(r"rx\.public\..*".into());
    let sink = TestSink::default();
    let job = env.start(settings, sink.clone());
    until("the first topic read", || sink.records().len() == 1).await;
    let second = env.topic("rx.public.b").await;
    env.produce(&[(change(&table(&second, true), Op::Create, 2, 102), false)])
        .await;
    until("the new topic read", || sink.records().len() == 2).await;
    let m = job.metrics.clone();
    job.stop().await.unwrap();
    assert_eq!(m.topics(), [first, second]);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_offsets_are_written_read_and_reset_while_the_job_is_stopped() {
    let env = env().await;
    let topic = env.topic("cdc.public.moved").await;
    let t = table(&topic, true);
    let events: Vec<_> = (1..=3)
        .map(|i| (change(&t, Op::Create, i, 100 + i as u64), false))
        .collect();
    env.produce(&events).await;
    let settings = env.settings(&topic, "moved");
    assert!(committed(&env, &settings).await.is_empty());
    let at = PartitionOffset {
        topic: topic.clone(),
        partition: 0,
        next: 2,
    };
    job::write_group_offsets(&env.kafka, &settings, &[at])
        .await
        .unwrap();
    assert_eq!(committed(&env, &settings).await, [2]);

    let sink = TestSink::default();
    let run = env.start(settings.clone(), sink.clone());
    until("the last change written", || !sink.records().is_empty()).await;
    run.stop().await.unwrap();
    let offsets: Vec<i64> = sink.records().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [2], "read from the written offset on");
    assert_eq!(committed(&env, &settings).await, [3]);

    job::reset_group_offsets(&env.kafka, &settings)
        .await
        .unwrap();
    assert_eq!(committed(&env, &settings).await, [0]);
    let replay = TestSink::default();
    let run = env.start(settings.clone(), replay.clone());
    until("everything read again", || replay.records().len() == 3).await;
    run.stop().await.unwrap();
}

/// A member the job does not own (another daemon's task, a crashed daemon's member the
/// broker has not dropped yet, any other client) blocks offset changes: they wait for the
/// session timeout, then give up naming the group, having changed nothing; a member that
/// leaves while a change waits lets it through.
#[tokio::test(flavor = "multi_thread")]
async fn offset_changes_wait_for_other_members_and_give_up_naming_the_group() {
    use rdkafka::consumer::{BaseConsumer, Consumer};

    let env = env().await;
    let topic = env.topic("cdc.public.held").await;
    env.produce(&[(change(&table(&topic, true), Op::Create, 1, 101), false)])
        .await;
    let mut kafka = env.kafka.clone();
    kafka
        .properties
        .insert("session.timeout.ms".into(), "6000".into());
    let settings = env.settings(&topic, "held");
    let member: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", &settings.group_id)
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    member.subscribe(&[&topic]).unwrap();
    let member = std::sync::Arc::new(member);
    let joined = {
        let m = member.clone();
        move || {
            let _ = m.poll(Duration::from_millis(100));
            m.assignment().is_ok_and(|a| a.count() > 0)
        }
    };
    until("the other member holds the partition", joined).await;

    let started = Instant::now();
    let err = job::reset_group_offsets(&kafka, &settings)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, job::GroupError::Busy { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&settings.group_id), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(waited >= Duration::from_secs(6), "gave up after {waited:?}");
    assert!(
        committed(&env, &settings).await.is_empty(),
        "nothing changed"
    );

    // The member leaves two seconds into the next change, which then goes through.
    let leaving = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        member.unsubscribe();
        while member.assignment().is_ok_and(|a| a.count() > 0) {
            let _ = member.poll(Duration::from_millis(100));
        }
        drop(member);
    });
    let at = PartitionOffset {
        topic: topic.clone(),
        partition: 0,
        next: 1,
    };
    job::write_group_offsets(&kafka, &settings, &[at])
        .await
        .unwrap();
    leaving.join().unwrap();
    assert_eq!(committed(&env, &settings).await, [1]);
}

/// Not a test of speed, a way to see it: `cargo test --release -p tributary-kafka --test
/// job throughput -- --ignored --nocapture`. Compares the job (decoding into a sink that
/// drops everything) with a bare consumer reading the same records.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn throughput() {
    use rdkafka::Message;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use tributary_core::sink::BoxFuture;
    use tributary_core::{PartitionOffset, Sink, SinkRecord};

    struct Drop;
    impl Sink for Drop {
        fn write<'a>(
            &'a mut self,
            _: &'a [SinkRecord],
            _: &'a [PartitionOffset],
        ) -> BoxFuture<'a, Result<(), SinkError>> {
            Box::pin(async { Ok(()) })
        }
    }

    let env = env().await;
    let topic = env.topic("cdc.public.bulk").await;
    let t = table(&topic, true);
    let n: u64 = 200_000;
    let (k, v) = env.encode(&change(&t, Op::Create, 1, 100), false).await;
    let (k, v) = (k.unwrap(), v.unwrap());
    for chunk in 0..n / 10_000 {
        let mut pending = Vec::new();
        for _ in 0..10_000 {
            let r = rdkafka::producer::FutureRecord::to(&topic)
                .key(&k[..])
                .payload(&v[..]);
            pending.push(env.producer.send_result(r).map_err(|(e, _)| e).unwrap());
        }
        for p in pending {
            p.await.unwrap().unwrap();
        }
        let _ = chunk;
    }
    println!("{n} records of {} value bytes produced", v.len());

    let raw: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &env.kafka.bootstrap_servers)
        .set("group.id", "raw")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "20")
        .create()
        .unwrap();
    raw.subscribe(&[topic.as_str()]).unwrap();
    let first = raw.recv().await.unwrap().offset();
    let started = Instant::now();
    let mut seen = 1;
    while seen < n {
        std::hint::black_box(raw.recv().await.unwrap().payload().map(<[u8]>::len));
        seen += 1;
    }
    let raw_rate = (n - 1) as f64 / started.elapsed().as_secs_f64();
    println!("bare consumer: {raw_rate:.0} records/s (from offset {first})");
    raw.unsubscribe();

    let mut settings = env.settings(&topic, "bulk");
    settings.batch_size = 5000;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let metrics = std::sync::Arc::new(tributary_kafka::job::JobMetrics::default());
    let registry = tributary_avro::registry::RegistryClient::new(
        env.registry.url(),
        tributary_avro::registry::RegistryAuth::None,
    )
    .unwrap();
    let decoder = tributary_avro::decode::Decoder::new(std::sync::Arc::new(registry));
    let (kafka, m) = (env.kafka.clone(), metrics.clone());
    let task = tokio::spawn(async move {
        tributary_kafka::job::run(settings, &kafka, decoder, Box::new(Drop), rx, m).await
    });
    let mut first: Option<(Instant, u64)> = None;
    let mut cpu_at_first = None;
    fn cpu() -> Duration {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let f: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }
    loop {
        let done = metrics.written_total();
        if first.is_none() && done > 0 {
            first = Some((Instant::now(), done));
            cpu_at_first = Some(cpu());
        }
        if done >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (at, base) = first.unwrap();
    println!(
        "process CPU {:?} in {:?} while the job ran",
        cpu().saturating_sub(cpu_at_first.unwrap_or_default()),
        at.elapsed()
    );
    let job_rate = (n - base) as f64 / at.elapsed().as_secs_f64();
    println!(
        "job: {job_rate:.0} records/s ({:.0}% of the bare consumer)",
        100.0 * job_rate / raw_rate
    );
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
