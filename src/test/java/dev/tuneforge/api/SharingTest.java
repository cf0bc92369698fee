package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Scopes;
import dev.tuneforge.store.Permission.Role;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sharing tuned models over real HTTP: every method as every kind of caller (project group, API key, OAuth client as
 * a user, external user by email, external group, everyone) with no role, READER, WRITER, and after the grant is
 * revoked; ownership transfer; and bad permission requests, which change nothing stored.
 */
class SharingTest {
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static TestIssuer issuer;
    static Http owner;
    static Http guest;
    static Http guestKey;
    static Http soloClient;
    static String soloClientAddress;
    static Http soloOther;
    static Http alice;
    static Http aliceUnverified;
    static Http teamMember;
    static Http stranger;
    static Http strangerKey;
    static String tableOperation;

    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],"
            + "\"generationConfig\":{\"maxOutputTokens\":4}}";

    @BeforeAll
    static void start() throws Exception {
        issuer = new TestIssuer();
        ServerConfig config = ServerConfig.defaults(dataDir, Path.of("."))
                .withAuth(ServerConfig.Auth.defaults().withExternal(issuer.config()));
        server = new TuneforgeServer(config).start("127.0.0.1", 0);
        int port = server.port();
        AuthStore store = server.auth().store();
        owner = Callers.http(server, "own");
        guest = Callers.http(server, "guest");
        guestKey = Http.withApiKey(port, guest.post("/v1beta/apiKeys", "{}").json().get("keyString").asText());
        AuthStore.ClientCredentials solo = store.createClient("solo");
        soloClient = new Http(port, "solo", Callers.token(port, solo.clientId(), solo.clientSecret(), null));
        soloClientAddress = solo.clientId().toLowerCase(Locale.ROOT) + "@clients.tuneforge";
        soloOther = Callers.http(server, "solo");
        alice = new Http(port, "ext", issuer.token("alice", List.of("ext"), Scopes.TUNING,
                Map.of("email", "Alice@Example.test", "email_verified", true)));
        aliceUnverified = new Http(port, "ext", issuer.token("mallory", List.of("ext"), Scopes.TUNING,
                Map.of("email", "alice@example.test", "email_verified", false)));
        teamMember = new Http(port, "ext2", issuer.token("bob", List.of("ext2"), Scopes.TUNING,
                Map.of("email", "bob@example.test", "groups", List.of("ML-Team@example.test"))));
        stranger = Callers.http(server, "stranger");
        strangerKey = Http.withApiKey(port, stranger.post("/v1beta/apiKeys", "{}").json().get("keyString").asText());
        tableOperation = train(owner, "table-model");
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        issuer.close();
    }

    private static String body(int epochs) {
        return SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":" + epochs + ",");
    }

    /** Creates the model {@code id} and waits until it is trained; returns its operation's name. */
    static String train(Http http, String id) throws InterruptedException {
        Http.Response created = http.post("/v1beta/tunedModels?tunedModelId=" + id, body(1));
        assertEquals(200, created.status(), created.body());
        String operation = created.json().get("name").asText();
        JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
        assertFalse(done.has("error"), done.toString());
        return operation;
    }

    /** A method of the API on a model, and the role it needs; {@code tuning}: API keys may not call it. */
    private record Method(String name, Role needs, boolean tuning, BiFunction<Http, String, Http.Response> call) {
    }

    private static final List<Method> METHODS = List.of(
            new Method("get", Role.READER, false, (h, m) -> h.get("/v1beta/tunedModels/" + m)),
            new Method("generateContent", Role.READER, false,
                    (h, m) -> h.post("/v1beta/tunedModels/" + m + ":generateContent", GENERATE)),
            new Method("streamGenerateContent", Role.READER, false,
                    (h, m) -> h.post("/v1beta/tunedModels/" + m + ":streamGenerateContent?alt=sse", GENERATE)),
            new Method("countTokens", Role.READER, false,
                    (h, m) -> h.post("/v1beta/tunedModels/" + m + ":countTokens", GENERATE)),
            new Method("operations.list", Role.READER, true, (h, m) -> h.get("/v1beta/tunedModels/" + m + "/operations")),
            new Method("operations.get", Role.READER, true, (h, m) -> h.get("/v1/" + tableOperation)),
            new Method("patch", Role.WRITER, true, (h, m) -> h.patch("/v1beta/tunedModels/" + m
                    + "?updateMask=description", "{\"description\":\"patched\"}")),
            new Method("permissions.list", Role.OWNER, true, (h, m) -> h.get("/v1beta/tunedModels/" + m + "/permissions")),
            new Method("permissions.get", Role.OWNER, true,
                    (h, m) -> h.get("/v1beta/tunedModels/" + m + "/permissions/creator")),
            new Method("permissions.create", Role.OWNER, true, (h, m) -> h.post("/v1beta/tunedModels/" + m
                    + "/permissions", "{\"granteeType\":\"EVERYONE\",\"role\":\"WRITER\"}")),
            new Method("permissions.delete", Role.OWNER, true,
                    (h, m) -> h.delete("/v1beta/tunedModels/" + m + "/permissions/creator")),
            new Method("transferOwnership", Role.OWNER, true, (h, m) -> h.post("/v1beta/tunedModels/" + m
                    + ":transferOwnership", "{\"emailAddress\":\"stranger@projects.tuneforge\"}")),
            new Method("operations.cancel", Role.OWNER, true, (h, m) -> h.post("/v1/" + tableOperation + ":cancel", "{}")),
            new Method("delete", Role.OWNER, true, (h, m) -> h.delete("/v1beta/tunedModels/" + m)));

    private record Caller(String name, Http http, boolean apiKey) {
    }

    /** Who a permission names, the callers it reaches, and callers it must not reach. */
    private record Grantee(String body, List<Caller> reached, List<Caller> notReached) {
    }

    private static int expectedStatus(Method method, Role held, boolean apiKey) {
        if (method.tuning() && apiKey) {
            return 401;
        }
        if (held == null) {
            return 404;
        }
        return held.allows(method.needs()) ? 200 : 403;
    }

    private static void checkAll(List<String> failures, String phase, List<Caller> callers, Role held) {
        for (Caller c : callers) {
            for (Method m : METHODS) {
                Http.Response r = m.call().apply(c.http(), "table-model");
                int expected = expectedStatus(m, held, c.apiKey());
                if (r.status() != expected) {
                    failures.add(phase + ": " + c.name() + " " + m.name() + " with " + held + " -> " + r.status()
                            + ", expected " + expected + ": " + r.body());
                }
            }
        }
    }

    @Test
    void everyMethodAsEveryCallerWithEveryRoleAndAfterRevocation() {
        Caller guestToken = new Caller("project guest (token)", guest, false);
        Caller guestApiKey = new Caller("project guest (API key)", guestKey, true);
        Caller client = new Caller("OAuth client as user", soloClient, false);
        Caller sameProjectOtherClient = new Caller("another client of the user's project", soloOther, false);
        Caller externalUser = new Caller("external user by email", alice, false);
        Caller unverified = new Caller("external user with that email unverified", aliceUnverified, false);
        Caller groupMember = new Caller("external group member", teamMember, false);
        Caller strangerToken = new Caller("stranger (token)", stranger, false);
        Caller strangerApiKey = new Caller("stranger (API key)", strangerKey, true);
        List<Grantee> grantees = List.of(
                new Grantee("{\"granteeType\":\"GROUP\",\"emailAddress\":\"guest@projects.tuneforge\",\"role\":\"%s\"}",
                        List.of(guestToken, guestApiKey), List.of(strangerToken, strangerApiKey, client)),
                new Grantee("{\"grantee_type\":\"USER\",\"email_address\":\"" + soloClientAddress + "\",\"role\":\"%s\"}",
                        List.of(client), List.of(sameProjectOtherClient, guestToken)),
                new Grantee("{\"granteeType\":\"USER\",\"emailAddress\":\"ALICE@example.test\",\"role\":\"%s\"}",
                        List.of(externalUser), List.of(unverified, groupMember)),
                new Grantee("{\"granteeType\":\"GROUP\",\"emailAddress\":\"ml-team@example.test\",\"role\":\"%s\"}",
                        List.of(groupMember), List.of(externalUser)),
                new Grantee("{\"granteeType\":\"EVERYONE\",\"role\":\"%s\"}",
                        List.of(strangerToken, strangerApiKey, guestApiKey, groupMember), List.of()));
        List<String> failures = new ArrayList<>();
        for (Grantee g : grantees) {
            String label = g.body().replace("%s", "ROLE");
            checkAll(failures, label + " not yet granted", g.reached(), null);
            Http.Response created = owner.post("/v1beta/tunedModels/table-model/permissions", g.body().formatted("READER"));
            assertEquals(200, created.status(), created.body());
            String name = created.json().get("name").asText();
            assertEquals("READER", created.json().get("role").asText());
            checkAll(failures, label + " granted", g.reached(), Role.READER);
            checkAll(failures, label + " granted to others", g.notReached(), null);

            Http.Response raised = owner.patch("/v1beta/" + name + "?updateMask=role", "{\"role\":\"WRITER\"}");
            assertEquals(200, raised.status(), raised.body());
            assertEquals("WRITER", raised.json().get("role").asText());
            checkAll(failures, label + " raised", g.reached(), Role.WRITER);
            checkAll(failures, label + " raised for others", g.notReached(), null);

            assertEquals(200, owner.delete("/v1beta/" + name).status());
            assertEquals(404, owner.get("/v1beta/" + name).status());
            checkAll(failures, label + " revoked", g.reached(), null);
        }
        assertTrue(failures.isEmpty(), failures.size() + " rules broken:\n" + String.join("\n", failures));
        // the owner could do everything throughout, and nothing a non-owner tried took effect
        JsonNode permissions = owner.get("/v1beta/tunedModels/table-model/permissions").json().get("permissions");
        assertEquals(1, permissions.size(), permissions.toString());
        assertEquals("tunedModels/table-model/permissions/creator", permissions.get(0).get("name").asText());
        assertEquals("GROUP", permissions.get(0).get("granteeType").asText());
        assertEquals("own@projects.tuneforge", permissions.get(0).get("emailAddress").asText());
        assertEquals("OWNER", permissions.get(0).get("role").asText());
        JsonNode model = owner.get("/v1beta/tunedModels/table-model").json();
        assertEquals("ACTIVE", model.get("state").asText(), "no cancel or delete got through: " + model);
        assertEquals(200, owner.post("/v1beta/tunedModels/table-model:generateContent", GENERATE).status());
    }

    @Test
    void aTransferredModelBelongsToItsNewOwnerAndThePreviousOneBecomesAWriter() throws Exception {
        train(owner, "to-transfer");
        Http.Response transferred = owner.post("/v1beta/tunedModels/to-transfer:transferOwnership",
                "{\"emailAddress\":\"guest@projects.tuneforge\"}");
        assertEquals(200, transferred.status(), transferred.body());
        assertEquals("{}", transferred.body());

        assertEquals(403, owner.get("/v1beta/tunedModels/to-transfer/permissions").status());
        assertEquals(403, owner.delete("/v1beta/tunedModels/to-transfer").status());
        assertEquals(200, owner.patch("/v1beta/tunedModels/to-transfer?updateMask=displayName",
                "{\"displayName\":\"still writable\"}").status());
        assertEquals(403, owner.post("/v1beta/tunedModels/to-transfer:transferOwnership",
                "{\"emailAddress\":\"own@projects.tuneforge\"}").status());

        JsonNode permissions = guest.get("/v1beta/tunedModels/to-transfer/permissions").json().get("permissions");
        assertEquals(2, permissions.size(), permissions.toString());
        assertEquals("WRITER", permissions.get(0).get("role").asText(), "the creator's permission, downgraded");
        assertEquals("own@projects.tuneforge", permissions.get(0).get("emailAddress").asText());
        assertEquals("OWNER", permissions.get(1).get("role").asText());
        assertEquals("guest@projects.tuneforge", permissions.get(1).get("emailAddress").asText());
        assertTrue(names(guest.get("/v1beta/tunedModels?filter=owner:me")).contains("tunedModels/to-transfer"));
        assertFalse(names(owner.get("/v1beta/tunedModels?filter=owner:me")).contains("tunedModels/to-transfer"));
        assertTrue(names(owner.get("/v1beta/tunedModels?filter=writers:me")).contains("tunedModels/to-transfer"));

        // the new owner revokes the creator's permission: the model is gone for the creating project
        assertEquals(200, guest.delete("/v1beta/tunedModels/to-transfer/permissions/creator").status());
        assertEquals(404, owner.get("/v1beta/tunedModels/to-transfer").status());
        assertEquals(404, owner.post("/v1beta/tunedModels/to-transfer:generateContent", GENERATE).status());
        assertFalse(names(owner.get("/v1beta/tunedModels")).contains("tunedModels/to-transfer"));
        assertEquals(200, guest.post("/v1beta/tunedModels/to-transfer:generateContent", GENERATE).status());

        // to an OAuth client as a user, who may then delete it
        assertEquals(200, guest.post("/v1beta/tunedModels/to-transfer:transferOwnership",
                "{\"email_address\":\"" + soloClientAddress.toUpperCase(Locale.ROOT) + "\"}").status());
        assertEquals(403, guest.delete("/v1beta/tunedModels/to-transfer").status());
        assertEquals(404, soloOther.get("/v1beta/tunedModels/to-transfer").status(), "the user, not its project");
        assertEquals(200, soloClient.delete("/v1beta/tunedModels/to-transfer").status());
        assertEquals(404, guest.get("/v1beta/tunedModels/to-transfer").status());
        assertEquals(404, soloClient.get("/v1beta/tunedModels/to-transfer").status());
    }

    @Test
    void aProjectsOwnModelWinsOverOneSharedWithItUnderTheSameId() throws Exception {
        assertEquals(200, owner.post("/v1beta/tunedModels?tunedModelId=same-id", body(1)
                .replace("number generator model", "own's")).status());
        assertEquals(200, stranger.post("/v1beta/tunedModels?tunedModelId=same-id", body(1)
                .replace("number generator model", "stranger's")).status());
        assertEquals(200, owner.post("/v1beta/tunedModels/same-id/permissions",
                "{\"granteeType\":\"EVERYONE\",\"role\":\"READER\"}").status());
        assertEquals("own's", owner.get("/v1beta/tunedModels/same-id").json().get("displayName").asText());
        assertEquals("stranger's", stranger.get("/v1beta/tunedModels/same-id").json().get("displayName").asText());
        assertEquals("own's", guest.get("/v1beta/tunedModels/same-id").json().get("displayName").asText());
        // a second model of that id shared with the guest: the name no longer tells them apart
        assertEquals(200, stranger.post("/v1beta/tunedModels/same-id/permissions",
                "{\"granteeType\":\"GROUP\",\"emailAddress\":\"guest@projects.tuneforge\",\"role\":\"READER\"}").status());
        Http.Response ambiguous = guest.get("/v1beta/tunedModels/same-id");
        assertEquals(400, ambiguous.status(), ambiguous.body());
        assertEquals("FAILED_PRECONDITION", ambiguous.json().get("error").get("status").asText());
        assertEquals(200, owner.delete("/v1beta/tunedModels/same-id").status());
        assertEquals("stranger's", guest.get("/v1beta/tunedModels/same-id").json().get("displayName").asText());
        assertEquals(200, stranger.delete("/v1beta/tunedModels/same-id").status());
    }

    @Test
    void onlyAProjectsOwnModelsItMayReadCanBeTunedFurther() {
        String shared = owner.post("/v1beta/tunedModels/table-model/permissions",
                "{\"granteeType\":\"GROUP\",\"emailAddress\":\"guest@projects.tuneforge\",\"role\":\"READER\"}")
                .json().get("name").asText();
        try {
            String fromSource = body(1).replace("\"base_model\": \"models/gemini-1.0-pro-001\",",
                    "\"tuned_model_source\": {\"tuned_model\": \"tunedModels/table-model\"},");
            assertTrue(fromSource.contains("tuned_model_source"), fromSource);
            Http.Response guestTry = guest.post("/v1beta/tunedModels?tunedModelId=from-shared", fromSource);
            assertEquals(400, guestTry.status(), guestTry.body());
            assertTrue(guestTry.json().get("error").get("message").asText().contains("tuned_model_source.tuned_model"));
            Http.Response strangerTry = stranger.post("/v1beta/tunedModels?tunedModelId=from-shared", fromSource);
            assertEquals(404, strangerTry.status(), strangerTry.body());
            assertTrue(strangerTry.json().get("error").get("message").asText().contains("tuned_model_source.tuned_model"));
            assertEquals(404, guest.get("/v1beta/tunedModels/from-shared").status(), "nothing stored");
            assertEquals(404, stranger.get("/v1beta/tunedModels/from-shared").status(), "nothing stored");
        } finally {
            assertEquals(200, owner.delete("/v1beta/" + shared).status());
        }
    }

    @Test
    void concurrentGrantsAndTransfersLeaveOneGrantPerGranteeAndOneOwner() throws Exception {
        assertEquals(200, owner.post("/v1beta/tunedModels?tunedModelId=contended", body(1)).status());
        List<java.util.concurrent.Future<Http.Response>> grants = new ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(8)) {
            for (int i = 0; i < 8; i++) {
                grants.add(pool.submit(() -> owner.post("/v1beta/tunedModels/contended/permissions",
                        "{\"emailAddress\":\"same@example.test\",\"role\":\"READER\"}")));
            }
        }
        List<Integer> statuses = new ArrayList<>();
        for (var f : grants) {
            statuses.add(f.get().status());
        }
        assertEquals(1, statuses.stream().filter(x -> x == 200).count(), statuses.toString());
        assertEquals(7, statuses.stream().filter(x -> x == 409).count(), statuses.toString());

        // the owner transfers to several projects at once: whichever wins, there is one OWNER
        List<java.util.concurrent.Future<Http.Response>> transfers = new ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            for (String target : List.of("guest", "stranger", "solo", "ext")) {
                transfers.add(pool.submit(() -> owner.post("/v1beta/tunedModels/contended:transferOwnership",
                        "{\"emailAddress\":\"" + target + "@projects.tuneforge\"}")));
            }
        }
        int transferred = 0;
        for (var f : transfers) {
            int status = f.get().status();
            assertTrue(status == 200 || status == 403, "a transfer after the first finds the caller no longer OWNER: "
                    + status);
            transferred += status == 200 ? 1 : 0;
        }
        assertTrue(transferred >= 1);
        JsonNode all = guest.get("/v1beta/tunedModels/contended/permissions?pageSize=100").json();
        if (all.has("error")) {
            all = stranger.get("/v1beta/tunedModels/contended/permissions?pageSize=100").json();
        }
        if (all.has("error")) {
            all = soloOther.get("/v1beta/tunedModels/contended/permissions?pageSize=100").json();
        }
        if (all.has("error")) {
            all = alice.get("/v1beta/tunedModels/contended/permissions?pageSize=100").json();
        }
        assertTrue(all.has("permissions"), all.toString());
        int owners = 0;
        for (JsonNode p : all.get("permissions")) {
            owners += p.get("role").asText().equals("OWNER") ? 1 : 0;
        }
        assertEquals(1, owners, all.toString());
    }

    private static List<String> names(Http.Response list) {
        assertEquals(200, list.status(), list.body());
        List<String> out = new ArrayList<>();
        list.json().path("tunedModels").forEach(m -> out.add(m.get("name").asText()));
        return out;
    }

    @Test
    void badPermissionRequestsNameTheFieldAndStoreNothing() throws Exception {
        assertEquals(200, owner.post("/v1beta/tunedModels?tunedModelId=bad-input", body(1)).status());
        Http.Response reader = owner.post("/v1beta/tunedModels/bad-input/permissions",
                "{\"granteeType\":\"GROUP\",\"emailAddress\":\"guest@projects.tuneforge\",\"role\":\"READER\"}");
        assertEquals(200, reader.status(), reader.body());
        String readerName = reader.json().get("name").asText();
        String before = owner.get("/v1beta/tunedModels/bad-input/permissions").body();
        String p = "/v1beta/tunedModels/bad-input/permissions";
        record Bad(String method, String path, String body, String field) {
        }
        List<Bad> bad = List.of(
                new Bad("POST", p, "{\"granteeType\":\"ROBOT\",\"emailAddress\":\"a@example.test\",\"role\":\"READER\"}", "grantee_type"),
                new Bad("POST", p, "{\"granteeType\":\"USER\",\"emailAddress\":\"a@example.test\",\"role\":\"ADMIN\"}", "role"),
                new Bad("POST", p, "{\"granteeType\":\"USER\",\"emailAddress\":\"a@example.test\"}", "role"),
                new Bad("POST", p, "{\"granteeType\":\"USER\",\"role\":\"READER\"}", "email_address"),
                new Bad("POST", p, "{\"granteeType\":\"GROUP\",\"role\":\"READER\"}", "email_address"),
                new Bad("POST", p, "{\"granteeType\":\"EVERYONE\",\"emailAddress\":\"a@example.test\",\"role\":\"READER\"}", "email_address"),
                new Bad("POST", p, "{\"granteeType\":\"USER\",\"emailAddress\":\"not an address\",\"role\":\"READER\"}", "email_address"),
                new Bad("POST", p, "{\"granteeType\":\"USER\",\"emailAddress\":\"x@projects.tuneforge\",\"role\":\"READER\"}", "email_address"),
                new Bad("POST", p, "{\"granteeType\":\"USER\",\"emailAddress\":\"a@example.test\",\"role\":\"OWNER\"}", "role"),
                new Bad("POST", p, "{\"granteeType\":\"USER\",\"emailAddress\":\"a@example.test\",\"role\":3}", "role"),
                new Bad("POST", p, "[]", "request body"),
                new Bad("PATCH", "/v1beta/" + readerName + "?updateMask=role", "{\"role\":\"OWNER\"}", "role"),
                new Bad("PATCH", "/v1beta/" + readerName + "?updateMask=role", "{\"role\":\"BOSS\"}", "role"),
                new Bad("PATCH", "/v1beta/" + readerName + "?updateMask=emailAddress", "{\"emailAddress\":\"b@example.test\"}", "update_mask"),
                new Bad("PATCH", "/v1beta/" + readerName, "{\"emailAddress\":\"b@example.test\",\"role\":\"WRITER\"}", "email_address"),
                new Bad("PATCH", p + "/creator?updateMask=role", "{\"role\":\"READER\"}", "role"),
                new Bad("DELETE", p + "/creator", null, "OWNER"),
                new Bad("POST", "/v1beta/tunedModels/bad-input:transferOwnership", "{}", "email_address"),
                new Bad("POST", "/v1beta/tunedModels/bad-input:transferOwnership", "{\"emailAddress\":\"nobody\"}", "email_address"),
                new Bad("POST", "/v1beta/tunedModels/bad-input:transferOwnership", "{\"emailAddress\":\"OWN@projects.tuneforge\"}", "email_address"),
                new Bad("GET", p + "?pageToken=garbage", null, "page_token"));
        List<String> failures = new ArrayList<>();
        for (Bad b : bad) {
            Http.Response r = owner.send(b.method(), b.path(), b.body());
            String status = r.status() == 400 ? r.json().get("error").get("status").asText() : "";
            String message = r.status() == 400 ? r.json().get("error").get("message").asText() : "";
            if (!status.equals("INVALID_ARGUMENT") || !message.contains(b.field())) {
                failures.add(b.method() + " " + b.path() + " " + b.body() + " -> " + r.status() + " " + r.body()
                        + " (expected INVALID_ARGUMENT naming " + b.field() + ")");
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        assertEquals(before, owner.get("/v1beta/tunedModels/bad-input/permissions").body(), "nothing stored");

        Http.Response duplicate = owner.post(p, "{\"granteeType\":\"GROUP\",\"emailAddress\":\"GUEST@projects.tuneforge\","
                + "\"role\":\"WRITER\"}");
        assertEquals(409, duplicate.status(), duplicate.body());
        assertTrue(duplicate.json().get("error").get("message").asText().contains(readerName), duplicate.body());
        assertEquals(404, owner.get(p + "/nosuchpermission").status());
        assertEquals(404, owner.get("/v1beta/tunedModels/no-such-model/permissions").status());
        assertEquals(before, owner.get("/v1beta/tunedModels/bad-input/permissions").body(), "nothing stored");
    }

    @Test
    void permissionsArePagedAsGoogleDoes() throws Exception {
        assertEquals(200, owner.post("/v1beta/tunedModels?tunedModelId=many-grants", body(1)).status());
        for (int i = 0; i < 12; i++) {
            Http.Response r = owner.post("/v1beta/tunedModels/many-grants/permissions",
                    "{\"emailAddress\":\"user" + i + "@example.test\",\"role\":\"READER\"}");
            assertEquals(200, r.status(), r.body());
            assertEquals("USER", r.json().get("granteeType").asText(), "an address without a type is a user");
        }
        JsonNode first = owner.get("/v1beta/tunedModels/many-grants/permissions").json();
        assertEquals(10, first.get("permissions").size(), "Google's default page size");
        JsonNode second = owner.get("/v1beta/tunedModels/many-grants/permissions?pageToken="
                + first.get("nextPageToken").asText()).json();
        assertEquals(3, second.get("permissions").size());
        assertFalse(second.has("nextPageToken"));
        List<String> all = new ArrayList<>();
        first.get("permissions").forEach(x -> all.add(x.get("name").asText()));
        second.get("permissions").forEach(x -> all.add(x.get("name").asText()));
        assertEquals(13, all.stream().distinct().count(), all.toString());
        assertEquals("tunedModels/many-grants/permissions/creator", all.get(0));
        JsonNode small = owner.get("/v1beta/tunedModels/many-grants/permissions?pageSize=5").json();
        assertEquals(5, small.get("permissions").size());
        Http.Response otherModel = owner.get("/v1beta/tunedModels/table-model/permissions?pageToken="
                + first.get("nextPageToken").asText());
        assertEquals(400, otherModel.status(), "a token is for the list it came from: " + otherModel.body());
    }
}
