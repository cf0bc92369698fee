package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** Lists, shows and deletes models on a running server. */
@Command(name = "models", mixinStandardHelpOptions = true, description = "List, show or delete models.",
        subcommands = {ModelsCommand.ListModels.class, ModelsCommand.GetModel.class, ModelsCommand.DeleteModel.class})
public final class ModelsCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    static String path(String name) {
        return "/v1beta/" + (name.contains("/") ? name : "tunedModels/" + name);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Base models and this project's tuned models.")
    static final class ListModels implements Runnable {
        @Mixin
        ServerOptions server;

        @Override
        public void run() {
            ApiClient api = server.client();
            for (JsonNode m : api.get("/v1beta/models?pageSize=1000").path("models")) {
                System.out.printf("%-45s base   %s%n", m.path("name").asText(), m.path("displayName").asText());
            }
            String token = "";
            do {
                JsonNode page = api.get("/v1beta/tunedModels?pageSize=100" + (token.isEmpty() ? "" : "&pageToken=" + token));
                for (JsonNode m : page.path("tunedModels")) {
                    System.out.printf("%-45s %-6s %s%n", m.path("name").asText(), m.path("state").asText(),
                            m.path("displayName").asText(""));
                }
                token = page.path("nextPageToken").asText("");
            } while (!token.isEmpty());
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Show a model (tunedModels/ID or models/ID).")
    static final class GetModel implements Runnable {
        @Parameters(paramLabel = "NAME")
        String name;

        @Mixin
        ServerOptions server;

        @Override
        public void run() {
            System.out.println(ApiClient.pretty(server.client().get(path(name))));
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a tuned model and its files.")
    static final class DeleteModel implements Runnable {
        @Parameters(paramLabel = "NAME")
        String name;

        @Mixin
        ServerOptions server;

        @Override
        public void run() {
            server.client().delete(path(name));
            System.out.println("deleted " + name);
        }
    }
}
