import java.lang.reflect.Field;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import software.amazon.dynamodb.services.local.main.ServerRunner;

/**
 * Starts Amazon DynamoDB Local listening on 127.0.0.1 only.
 *
 * <p>DynamoDBLocal.jar has no host option and binds every interface, which would expose the local
 * database to the network. This launcher builds the server exactly as the jar's own main does
 * (same command-line arguments), then points its Jetty connectors at the loopback address
 * before starting it. The Jetty server is a private field of the proxy server, hence reflection.
 */
public final class DynamoDbLoopback {
    private static final String HOST = "127.0.0.1";

    private DynamoDbLoopback() {}

    public static void main(String[] args) throws Exception {
        Object proxy = ServerRunner.createServerFromCommandLineArgs(args);
        if (proxy == null) {
            // The runner has already printed the usage or the argument error.
            System.exit(2);
        }

        Field field = proxy.getClass().getDeclaredField("server");
        field.setAccessible(true);
        Server jetty = (Server) field.get(proxy);

        int bound = 0;
        for (Connector connector : jetty.getConnectors()) {
            if (connector instanceof ServerConnector serverConnector) {
                serverConnector.setHost(HOST);
                bound++;
            }
        }
        if (bound == 0) {
            // Refuse to start rather than silently listen on every interface.
            System.err.println("DynamoDbLoopback: no Jetty ServerConnector found; not starting");
            System.exit(3);
        }

        proxy.getClass().getMethod("start").invoke(proxy);
        System.err.println("DynamoDbLoopback: listening on " + HOST);
    }
}
