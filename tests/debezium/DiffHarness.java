// The Java half of the differential test (tests/debezium_diff.rs): renders the records of the
// real Debezium Postgres connector, and the records Tributary published to Kafka, in one and
// the same form, so the Rust test can compare them field by field.
//
//   java DiffHarness debezium OUT_DIR NAME.properties...
//     runs one Debezium embedded engine per properties file, all in this JVM, until standard
//     input closes; engine NAME writes OUT_DIR/NAME.jsonl. Each SourceRecord goes through
//     Confluent's AvroData exactly as the AvroConverter would turn it into an Avro schema
//     and datum. A failed engine writes OUT_DIR/NAME.failed with the reason.
//   java DiffHarness kafka BOOTSTRAP REGISTRY TOPIC_REGEX OUT.jsonl IDLE_MS MIN
//     reads every record of the matching topics (read_committed, from the start) until at
//     least MIN arrived (or 3 minutes passed) and then none for IDLE_MS, decoding with
//     Confluent's KafkaAvroDeserializer. Heartbeats are read but neither count nor wait.
//   java DiffHarness json BOOTSTRAP TOPIC_REGEX OUT.jsonl IDLE_MS MIN SCHEMAS
//     reads records as `kafka` does, written by a JsonConverter with schemas.enable=SCHEMAS,
//     and writes per key and value {"topic", "side", "ours", "java"[, "java_plain"]}: with
//     schemas, Kafka's JsonConverter reads our bytes into Connect data and writes that
//     again, with schemas ("java") and without ("java_plain"); without schemas, Jackson
//     (Kafka's JsonSerializer's ObjectMapper) writes the tree it read ("java").
//   java DiffHarness transform BOOTSTRAP TOPIC_REGEX CHAINS.properties OUT.jsonl IDLE_MS MIN
//     reads records as `json` does (written with schemas), turns each into a SourceRecord
//     with Kafka's JsonConverter (without headers or timestamp), and runs it through every
//     chain CHAINS.properties defines (`chains=a,b`; chain a's Kafka Connect properties
//     under `a.`: `a.transforms=…`, `a.transforms.x.type=…`, `a.predicates=…`). A line:
//     {"topic", "key", "value", "chains": {NAME: {"out": RECORD or null} or {"error": …}},
//     "cloudevents": {CONFIG: the value by Debezium's CloudEventsConverter (CE_CONFIGS), or
//     null, or {"error": …}}},
//     a RECORD {"topic", "partition", "timestamp", "key", "value", "headers": [[key, text or null]],
//     "strings": [key, value] by Kafka's StringConverter (text or null), "bytes": [key, value]
//     by its ByteArrayConverter (base64, null, or "error")}
//     with key and value as the JsonConverter (schemas.enable=true) writes them and
//     header values as the SimpleHeaderConverter does.
//   java DiffHarness fields
//     prints every field of Debezium's PostgresConnectorConfig, one per line: its name, a tab,
//     and its default value (empty when it has none).
//
// A line: {"topic", "key_schema", "value_schema", "key", "value", "headers"}; the schemas are
// the Avro schema JSON, the datums Avro's JSON encoding (unions as {"type": value}).
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.confluent.connect.avro.AvroData;
import io.confluent.connect.avro.AvroDataConfig;
import io.confluent.kafka.serializers.KafkaAvroDeserializer;
import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.ChangeEvent;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.FileWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericContainer;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.Encoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;

public class DiffHarness {
    static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "debezium" -> debezium(args[1], java.util.Arrays.copyOfRange(args, 2, args.length));
            case "kafka" -> kafka(args[1], args[2], args[3], args[4], Long.parseLong(args[5]), Integer.parseInt(args[6]));
            case "fields" -> fields();
            case "transform" -> transform(args[1], args[2], args[3], args[4], Long.parseLong(args[5]), Integer.parseInt(args[6]));
            case "json" -> json(args[1], args[2], args[3], Long.parseLong(args[4]), Integer.parseInt(args[5]), Boolean.parseBoolean(args[6]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    static void fields() throws Exception {
        Class<?> config = Class.forName("io.debezium.connector.postgresql.PostgresConnectorConfig");
        var all = (io.debezium.config.Field.Set) config.getField("ALL_FIELDS").get(null);
        for (io.debezium.config.Field f : all) {
            String d = f.defaultValueAsString();
            System.out.println(f.name() + "\t" + (d == null ? "" : d));
        }
    }

    static void debezium(String outDir, String[] propsFiles) throws Exception {
        List<DebeziumEngine<ChangeEvent<SourceRecord, SourceRecord>>> engines = new java.util.ArrayList<>();
        List<Writer> writers = new java.util.ArrayList<>();
        ExecutorService executor = Executors.newCachedThreadPool();
        for (String propsFile : propsFiles) {
            Properties props = new Properties();
            try (var in = new FileInputStream(propsFile)) {
                props.load(in);
            }
            String name = props.getProperty("name");
            Writer w = new FileWriter(outDir + "/" + name + ".jsonl", StandardCharsets.UTF_8);
            writers.add(w);
            AvroData avro = new AvroData(new AvroDataConfig(Map.of()));
            SimpleHeaderConverter headers = new SimpleHeaderConverter();
            headers.configure(Map.of());
            DebeziumEngine<ChangeEvent<SourceRecord, SourceRecord>> engine = DebeziumEngine.create(Connect.class)
                    .using(props)
                    .notifying(event -> {
                        SourceRecord r = event.value();
                        ObjectNode line = JSON.createObjectNode();
                        line.put("topic", r.topic());
                        Schema ks = r.keySchema() == null ? null : avro.fromConnectSchema(r.keySchema());
                        Schema vs = r.valueSchema() == null ? null : avro.fromConnectSchema(r.valueSchema());
                        line.set("key_schema", schemaJson(ks));
                        line.set("value_schema", schemaJson(vs));
                        line.set("key", datumJson(ks, r.key() == null ? null : avro.fromConnectData(r.keySchema(), r.key())));
                        line.set("value", datumJson(vs, r.value() == null ? null : avro.fromConnectData(r.valueSchema(), r.value())));
                        ObjectNode hs = line.putObject("headers");
                        for (org.apache.kafka.connect.header.Header h : r.headers()) {
                            byte[] b = headers.fromConnectHeader(r.topic(), h.key(), h.schema(), h.value());
                            hs.put(h.key(), b == null ? null : new String(b, StandardCharsets.UTF_8));
                        }
                        write(w, line);
                    })
                    .using((success, message, error) -> {
                        if (!success) {
                            try (Writer f = new FileWriter(outDir + "/" + name + ".failed", StandardCharsets.UTF_8)) {
                                f.write(message + "\n");
                                if (error != null) error.printStackTrace(new java.io.PrintWriter(f));
                            } catch (IOException e) {
                                throw new RuntimeException(e);
                            }
                        }
                    })
                    .build();
            engines.add(engine);
            executor.execute(engine);
        }
        // Runs until the test closes standard input.
        while (System.in.read() != -1) {}
        for (var engine : engines) engine.close();
        executor.shutdown();
        executor.awaitTermination(30, TimeUnit.SECONDS);
        for (Writer w : writers) w.close();
        System.exit(0);
    }

    static void kafka(String bootstrap, String registry, String regex, String out, long idleMs, int min) throws Exception {
        Map<String, Object> conf = consumerConfig(bootstrap);
        KafkaAvroDeserializer keys = new KafkaAvroDeserializer();
        keys.configure(Map.of("schema.registry.url", registry), true);
        KafkaAvroDeserializer values = new KafkaAvroDeserializer();
        values.configure(Map.of("schema.registry.url", registry), false);
        try (Writer w = new FileWriter(out, StandardCharsets.UTF_8);
                var consumer = new KafkaConsumer<>(conf, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(Pattern.compile(regex));
            long last = System.currentTimeMillis();
            int n = 0;
            long deadline = last + 180_000;
            while ((n < min && System.currentTimeMillis() < deadline) || System.currentTimeMillis() - last < idleMs) {
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<byte[], byte[]> r : batch) {
                    // Heartbeats never stop: they neither count nor keep the reader waiting.
                    if (!r.topic().startsWith("__debezium-heartbeat")) {
                        last = System.currentTimeMillis();
                        n++;
                    }
                    Object k = r.key() == null ? null : keys.deserialize(r.topic(), r.key());
                    Object v = r.value() == null ? null : values.deserialize(r.topic(), r.value());
                    Schema ks = k instanceof GenericContainer c ? c.getSchema() : null;
                    Schema vs = v instanceof GenericContainer c ? c.getSchema() : null;
                    ObjectNode line = JSON.createObjectNode();
                    line.put("topic", r.topic());
                    line.set("key_schema", schemaJson(ks));
                    line.set("value_schema", schemaJson(vs));
                    line.set("key", datumJson(ks, k));
                    line.set("value", datumJson(vs, v));
                    ObjectNode hs = line.putObject("headers");
                    for (Header h : r.headers()) {
                        hs.put(h.key(), h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
                    }
                    write(w, line);
                }
            }
        }
    }

    static void json(String bootstrap, String regex, String out, long idleMs, int min, boolean schemas) throws Exception {
        Map<String, Object> conf = consumerConfig(bootstrap);
        org.apache.kafka.connect.json.JsonConverter[] with = new org.apache.kafka.connect.json.JsonConverter[2];
        org.apache.kafka.connect.json.JsonConverter[] plain = new org.apache.kafka.connect.json.JsonConverter[2];
        for (int side = 0; side < 2; side++) {
            with[side] = new org.apache.kafka.connect.json.JsonConverter();
            with[side].configure(Map.of("schemas.enable", "true"), side == 0);
            plain[side] = new org.apache.kafka.connect.json.JsonConverter();
            plain[side].configure(Map.of("schemas.enable", "false"), side == 0);
        }
        ObjectMapper mapper = new ObjectMapper();
        try (Writer w = new FileWriter(out, StandardCharsets.UTF_8);
                var consumer = new KafkaConsumer<>(conf, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(Pattern.compile(regex));
            long last = System.currentTimeMillis();
            int n = 0;
            long deadline = last + 180_000;
            while ((n < min && System.currentTimeMillis() < deadline) || System.currentTimeMillis() - last < idleMs) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (!r.topic().startsWith("__debezium-heartbeat")) {
                        last = System.currentTimeMillis();
                        n++;
                    }
                    for (int side = 0; side < 2; side++) {
                        byte[] bytes = side == 0 ? r.key() : r.value();
                        if (bytes == null) continue;
                        ObjectNode line = JSON.createObjectNode();
                        line.put("topic", r.topic());
                        line.put("side", side == 0 ? "key" : "value");
                        line.put("ours", new String(bytes, StandardCharsets.UTF_8));
                        try {
                            if (schemas) {
                                var sv = with[side].toConnectData(r.topic(), bytes);
                                line.put("java", new String(with[side].fromConnectData(r.topic(), sv.schema(), sv.value()), StandardCharsets.UTF_8));
                                line.put("java_plain", new String(plain[side].fromConnectData(r.topic(), sv.schema(), sv.value()), StandardCharsets.UTF_8));
                            } else {
                                line.put("java", mapper.writeValueAsString(mapper.readTree(bytes)));
                            }
                        } catch (Exception e) {
                            line.put("error", e.toString());
                        }
                        write(w, line);
                    }
                }
            }
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static void transform(String bootstrap, String regex, String chainsFile, String out, long idleMs, int min) throws Exception {
        Properties all = new Properties();
        try (var in = new FileInputStream(chainsFile)) {
            all.load(in);
        }
        record Stage(org.apache.kafka.connect.transforms.Transformation t,
                org.apache.kafka.connect.transforms.predicates.Predicate p, boolean negate) {}
        Map<String, List<Stage>> chains = new java.util.LinkedHashMap<>();
        for (String chain : all.getProperty("chains").split(",")) {
            chain = chain.trim();
            Map<String, String> props = new HashMap<>();
            for (String k : all.stringPropertyNames()) {
                if (k.startsWith(chain + ".")) props.put(k.substring(chain.length() + 1), all.getProperty(k));
            }
            Map<String, org.apache.kafka.connect.transforms.predicates.Predicate> predicates = new HashMap<>();
            for (String alias : props.getOrDefault("predicates", "").split(",")) {
                alias = alias.trim();
                if (alias.isEmpty()) continue;
                var p = (org.apache.kafka.connect.transforms.predicates.Predicate) Class.forName(props.get("predicates." + alias + ".type")).getDeclaredConstructor().newInstance();
                Map<String, String> pconf = sub(props, "predicates." + alias + ".");
                pconf.remove("type");
                p.configure(pconf);
                predicates.put(alias, p);
            }
            List<Stage> stages = new java.util.ArrayList<>();
            for (String alias : props.getOrDefault("transforms", "").split(",")) {
                alias = alias.trim();
                if (alias.isEmpty()) continue;
                String prefix = "transforms." + alias + ".";
                var t = (org.apache.kafka.connect.transforms.Transformation) Class.forName(props.get(prefix + "type")).getDeclaredConstructor().newInstance();
                Map<String, String> conf = sub(props, prefix);
                conf.remove("type");
                conf.remove("predicate");
                conf.remove("negate");
                t.configure(conf);
                String pred = props.get(prefix + "predicate");
                stages.add(new Stage(t, pred == null ? null : predicates.get(pred), Boolean.parseBoolean(props.getOrDefault(prefix + "negate", "false"))));
            }
            chains.put(chain, stages);
        }
        org.apache.kafka.connect.json.JsonConverter[] conv = new org.apache.kafka.connect.json.JsonConverter[2];
        for (int side = 0; side < 2; side++) {
            conv[side] = new org.apache.kafka.connect.json.JsonConverter();
            conv[side].configure(Map.of("schemas.enable", "true"), side == 0);
        }
        SimpleHeaderConverter headers = new SimpleHeaderConverter();
        headers.configure(Map.of());
        var stringConverter = new org.apache.kafka.connect.storage.StringConverter();
        stringConverter.configure(Map.of(), false);
        var byteArrayConverter = new org.apache.kafka.connect.converters.ByteArrayConverter();
        byteArrayConverter.configure(Map.of(), false);
        // Debezium's CloudEventsConverter, per configuration name (CE_CONFIGS).
        Map<String, io.debezium.converters.CloudEventsConverter> cloudEvents = new java.util.LinkedHashMap<>();
        for (var e : CE_CONFIGS.entrySet()) {
            var ce = new io.debezium.converters.CloudEventsConverter();
            ce.configure(e.getValue(), false);
            cloudEvents.put(e.getKey(), ce);
        }
        Map<String, Object> conf = consumerConfig(bootstrap);
        try (Writer w = new FileWriter(out, StandardCharsets.UTF_8);
                var consumer = new KafkaConsumer<>(conf, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(Pattern.compile(regex));
            long last = System.currentTimeMillis();
            int n = 0;
            long deadline = last + 180_000;
            while ((n < min && System.currentTimeMillis() < deadline) || System.currentTimeMillis() - last < idleMs) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().startsWith("__debezium-heartbeat")) continue;
                    last = System.currentTimeMillis();
                    n++;
                    ObjectNode line = JSON.createObjectNode();
                    line.put("topic", r.topic());
                    line.put("key", r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8));
                    line.put("value", r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8));
                    ObjectNode ces = line.putObject("cloudevents");
                    for (var ce : cloudEvents.entrySet()) {
                        try {
                            var v = conv[1].toConnectData(r.topic(), r.value());
                            byte[] b = ce.getValue().fromConnectData(r.topic(), new org.apache.kafka.common.header.internals.RecordHeaders(), v.schema(), v.value());
                            if (b == null) ces.putNull(ce.getKey()); else ces.put(ce.getKey(), new String(b, StandardCharsets.UTF_8));
                        } catch (Exception e) {
                            ces.putObject(ce.getKey()).put("error", e.toString());
                        }
                    }
                    ObjectNode results = line.putObject("chains");
                    for (var chain : chains.entrySet()) {
                        ObjectNode result = results.putObject(chain.getKey());
                        try {
                            var k = conv[0].toConnectData(r.topic(), r.key());
                            var v = conv[1].toConnectData(r.topic(), r.value());
                            SourceRecord rec = new SourceRecord(null, null, r.topic(), null, k.schema(), k.value(), v.schema(), v.value(), null, null);
                            for (Stage s : chain.getValue()) {
                                if (rec == null) break;
                                if (s.p() != null && s.p().test(rec) == s.negate()) continue;
                                rec = (SourceRecord) s.t().apply(rec);
                            }
                            if (rec == null) {
                                result.putNull("out");
                                continue;
                            }
                            ObjectNode o = result.putObject("out");
                            o.put("topic", rec.topic());
                            if (rec.kafkaPartition() == null) o.putNull("partition"); else o.put("partition", rec.kafkaPartition());
                            if (rec.timestamp() == null) o.putNull("timestamp"); else o.put("timestamp", rec.timestamp());
                            byte[] kb = conv[0].fromConnectData(rec.topic(), rec.keySchema(), rec.key());
                            byte[] vb = conv[1].fromConnectData(rec.topic(), rec.valueSchema(), rec.value());
                            o.put("key", kb == null ? null : new String(kb, StandardCharsets.UTF_8));
                            o.put("value", vb == null ? null : new String(vb, StandardCharsets.UTF_8));
                            // Kafka's StringConverter and ByteArrayConverter of the key and the value.
                            var strings = o.putArray("strings");
                            var bytes = o.putArray("bytes");
                            for (int side = 0; side < 2; side++) {
                                var schema = side == 0 ? rec.keySchema() : rec.valueSchema();
                                Object value = side == 0 ? rec.key() : rec.value();
                                byte[] sb = stringConverter.fromConnectData(rec.topic(), schema, value);
                                if (sb == null) strings.addNull(); else strings.add(new String(sb, StandardCharsets.UTF_8));
                                try {
                                    byte[] bb = byteArrayConverter.fromConnectData(rec.topic(), schema, value);
                                    if (bb == null) bytes.addNull(); else bytes.add(java.util.Base64.getEncoder().encodeToString(bb));
                                } catch (Exception e) {
                                    bytes.add("error");
                                }
                            }
                            var hs = o.putArray("headers");
                            for (org.apache.kafka.connect.header.Header h : rec.headers()) {
                                byte[] b = headers.fromConnectHeader(rec.topic(), h.key(), h.schema(), h.value());
                                var pair = hs.addArray();
                                pair.add(h.key());
                                if (b == null) pair.addNull(); else pair.add(new String(b, StandardCharsets.UTF_8));
                            }
                        } catch (Exception e) {
                            result.put("error", e.toString());
                        }
                    }
                    write(w, line);
                }
            }
        }
    }

    // The CloudEventsConverter configurations `transform` renders each record's value with.
    static final Map<String, Map<String, String>> CE_CONFIGS = new java.util.LinkedHashMap<>();
    static {
        CE_CONFIGS.put("default", Map.of());
        CE_CONFIGS.put("plain_data", Map.of("json.schemas.enable", "false"));
        CE_CONFIGS.put("no_extensions", Map.of("extension.attributes.enable", "false", "json.decimal.format", "NUMERIC"));
    }

    static Map<String, String> sub(Map<String, String> props, String prefix) {
        Map<String, String> out = new HashMap<>();
        for (var e : props.entrySet()) {
            if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
        }
        return out;
    }

    // A read_committed consumer of every record from the start, in a group of its own.
    static Map<String, Object> consumerConfig(String bootstrap) {
        Map<String, Object> conf = new HashMap<>();
        conf.put("bootstrap.servers", bootstrap);
        conf.put("group.id", "diff-" + UUID.randomUUID());
        conf.put("isolation.level", "read_committed");
        conf.put("auto.offset.reset", "earliest");
        conf.put("enable.auto.commit", "false");
        conf.put("metadata.max.age.ms", "1000");
        return conf;
    }

    static JsonNode schemaJson(Schema s) {
        try {
            return s == null ? null : JSON.readTree(s.toString());
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static JsonNode datumJson(Schema s, Object datum) {
        if (datum == null) return null;
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            Encoder enc = EncoderFactory.get().jsonEncoder(s, bytes);
            new GenericDatumWriter<Object>(s).write(datum, enc);
            enc.flush();
            return JSON.readTree(bytes.toByteArray());
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static synchronized void write(Writer w, JsonNode line) {
        try {
            w.write(JSON.writeValueAsString(line));
            w.write('\n');
            w.flush();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }
}
