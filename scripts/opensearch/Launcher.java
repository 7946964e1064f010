// A single-node OpenSearch 2.19 in this JVM, for tests and benches: the server of
// OpenSearch's test framework (MockNode) with the modules of the distribution a search
// sink uses: the HTTP transport (netty4), the standard analyzers, _delete_by_query
// (reindex) and Painless.
//
//   java -cp 'JARS/*:CLASSES' Launcher DIR HTTP_PORT TRANSPORT_PORT [setting=value ...]
//
// Data and the node's files live in DIR. Settings given after the ports are added to the
// node's (e.g. thread_pool.write.queue_size=1). The process prints "started <http port>"
// once the cluster is yellow, and stops the node on SIGTERM or when stdin closes.

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.MockNode;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: Launcher DIR HTTP_PORT TRANSPORT_PORT [setting=value ...]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]).toAbsolutePath();
        Files.createDirectories(dir.resolve("data"));
        Files.createDirectories(dir.resolve("logs"));
        Settings.Builder settings = Settings.builder()
            .put("path.home", dir.toString())
            .put("path.data", dir.resolve("data").toString())
            .put("path.logs", dir.resolve("logs").toString())
            .put("cluster.name", "tributary-test")
            .put("node.name", "node-1")
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true);
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("not a setting=value pair: " + args[i]);
                System.exit(2);
            }
            settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        List<Class<? extends Plugin>> plugins =
            List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PainlessPlugin.class, ReindexPlugin.class);
        Node node = new MockNode(settings.build(), plugins);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                // exiting anyway
            }
        }));
        node.start();
        node.client().admin().cluster().prepareHealth().setWaitForYellowStatus().get();
        System.out.println("started " + args[1]);
        System.out.flush();
        // Stop when the parent goes away (stdin closes) as well as on a signal.
        while (System.in.read() != -1) {
            // keep reading
        }
        System.exit(0);
    }
}
