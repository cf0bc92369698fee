package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** tunedModels.list's sharing filters (readers:me, writers:me, owner:me, readers:everyone), in pages. */
class SharingFilterTest {
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http fa;
    static Http fb;
    static Http fc;

    @BeforeAll
    static void start() {
        // without quotas: fb creates four models at once, more than tuningJobsInProgress allows while they train
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of(".")).withQuotas(QuotasTest.unlimited()))
                .start("127.0.0.1", 0);
        AuthStore.ClientCredentials faClient = server.auth().store().createClient("fa");
        fa = new Http(server.port(), "fa", Callers.token(server.port(), faClient.clientId(), faClient.clientSecret(), null));
        fb = Callers.http(server, "fb");
        fc = Callers.http(server, "fc");
        // created in this order, which is the lists' order
        create(fa, "a-private", "plain");
        create(fa, "a-public", "plain");
        share(fa, "a-public", "{\"granteeType\":\"EVERYONE\",\"role\":\"READER\"}");
        create(fb, "b-writable", "special");
        share(fb, "b-writable", "{\"granteeType\":\"GROUP\",\"emailAddress\":\"fa@projects.tuneforge\",\"role\":\"WRITER\"}");
        create(fb, "b-readable", "special");
        share(fb, "b-readable", "{\"granteeType\":\"GROUP\",\"emailAddress\":\"fa@projects.tuneforge\",\"role\":\"READER\"}");
        create(fb, "b-private", "special");
        create(fb, "b-public", "plain");
        share(fb, "b-public", "{\"granteeType\":\"EVERYONE\",\"role\":\"WRITER\"}");
        create(fc, "c-given", "plain");
        Http.Response transferred = fc.post("/v1beta/tunedModels/c-given:transferOwnership", "{\"emailAddress\":\""
                + faClient.clientId().toLowerCase(Locale.ROOT) + "@clients.tuneforge\"}");
        assertEquals(200, transferred.status(), transferred.body());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static void create(Http http, String id, String description) {
        Http.Response r = http.post("/v1beta/tunedModels?tunedModelId=" + id, SeedWalkthroughTest.SEED_BODY
                .replace("\"epoch_count\":5,", "\"epoch_count\":1,")
                .replace("\"display_name\"", "\"description\": \"" + description + "\", \"display_name\""));
        assertEquals(200, r.status(), r.body());
    }

    private static void share(Http http, String id, String permission) {
        Http.Response r = http.post("/v1beta/tunedModels/" + id + "/permissions", permission);
        assertEquals(200, r.status(), r.body());
    }

    /** Every model the filter lists, page by page ({@code pageSize} each), checking each page's size. */
    private static List<String> listed(Http http, String filter, int pageSize) {
        List<String> out = new ArrayList<>();
        String token = null;
        do {
            String query = "?pageSize=" + pageSize + (filter == null ? "" : "&filter="
                    + URLEncoder.encode(filter, StandardCharsets.UTF_8)) + (token == null ? "" : "&pageToken=" + token);
            Http.Response r = http.get("/v1beta/tunedModels" + query);
            assertEquals(200, r.status(), r.body());
            int before = out.size();
            r.json().path("tunedModels").forEach(m -> out.add(m.get("name").asText().substring("tunedModels/".length())));
            assertTrue(out.size() - before <= pageSize, r.body());
            token = r.json().has("nextPageToken") ? r.json().get("nextPageToken").asText() : null;
            assertTrue(token == null || out.size() - before == pageSize, "a page before the last is full: " + r.body());
        } while (token != null);
        return out;
    }

    @Test
    void eachFilterListsTheModelsOfItsRoleInPages() {
        List<String> readable = List.of("a-private", "a-public", "b-writable", "b-readable", "c-given");
        for (int pageSize : new int[]{1, 2, 50}) {
            assertEquals(readable, listed(fa, null, pageSize), "no filter is readers:me");
            assertEquals(readable, listed(fa, "readers:me", pageSize));
            assertEquals(List.of("a-private", "a-public", "b-writable", "c-given"), listed(fa, "writers:me", pageSize));
            assertEquals(List.of("a-private", "a-public", "c-given"), listed(fa, "owner:me", pageSize));
            assertEquals(List.of("a-public", "b-public"), listed(fa, "readers:everyone", pageSize));
            assertEquals(List.of("a-public"), listed(fa, "readers:everyone owner:me", pageSize));
            assertEquals(List.of("b-writable", "b-readable"), listed(fa, "SPECIAL readers:me", pageSize));
            assertEquals(List.of("b-writable"), listed(fa, "special writers:me", pageSize));
        }
        assertEquals(List.of("b-writable", "b-readable", "b-private", "b-public"), listed(fb, "owner:me", 3));
        assertEquals(List.of("a-public", "b-public"), listed(fc, "readers:everyone", 1));
        assertEquals(List.of("c-given"), listed(fc, "writers:me", 1), "the previous owner is a writer");
        assertEquals(List.of(), listed(fc, "owner:me", 1));
    }

    @Test
    void aPageTokenBelongsToItsFilter() {
        Http.Response first = fa.get("/v1beta/tunedModels?pageSize=1&filter=owner:me");
        String token = first.json().get("nextPageToken").asText();
        Http.Response other = fa.get("/v1beta/tunedModels?pageSize=1&filter=writers:me&pageToken=" + token);
        assertEquals(400, other.status(), other.body());
        assertTrue(other.json().get("error").get("message").asText().contains("page_token"), other.body());
        assertFalse(listed(fa, "owner:me", 1).isEmpty());
    }
}
