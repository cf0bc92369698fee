package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.tuneforge.auth.AuthStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web console in headless Chromium (Debian's chromium and chromium-driver) driven by Selenium: the tutorial's
 * flow from sign-in to the playground, API keys, sign-out and CSRF. Screenshots go to target/console-*.png.
 */
class ConsoleBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final int BAD_LINE = 5;
    @TempDir
    Path dataDir;
    @TempDir
    Path files;
    private TuneforgeServer server;
    private ChromeDriver browser;
    private WebDriverWait wait;
    private String base;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() {
        assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "the browser test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)");
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0);
        base = "http://127.0.0.1:" + server.port();
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                        "--window-size=1280,1000");
        browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build(), options);
        wait = new WebDriverWait(browser, Duration.ofSeconds(30));
    }

    @AfterEach
    void stop() {
        try {
            if (browser != null) {
                browser.quit();
            }
        } finally {
            server.close();
        }
    }

    @Test
    void theTutorialFlowFromSignInToPlaygroundKeysSignOutAndCsrf() throws Exception {
        AuthStore store = server.auth().store();
        AuthStore.ClientCredentials client = store.createClient("tutorial");

        browser.get(base + "/");
        present(By.name("client_id"));
        type(By.name("client_id"), client.clientId());
        type(By.name("client_secret"), client.clientSecret());
        browser.findElement(By.id("sign-in")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("models"), "No tuned models"));
        assertEquals("tutorial", new Select(browser.findElement(By.id("project"))).getFirstSelectedOption().getText());

        // a CSV of the tutorial's examples with one row whose output is over the server's limit
        List<String[]> examples = tutorialExamples();
        StringBuilder csv = new StringBuilder("text_input,output\n");
        for (int i = 0; i < examples.size(); i++) {
            if (i + 2 == BAD_LINE) {
                csv.append(quoted("LXIII")).append(',').append(quoted("x".repeat(5001))).append('\n');
            }
            csv.append(quoted(examples.get(i)[0])).append(',').append(quoted(examples.get(i)[1])).append('\n');
        }
        Path file = files.resolve("examples.csv");
        Files.writeString(file, csv);
        browser.get(base + "/console#/tune");
        present(By.name("examples")).sendKeys(file.toString());
        WebElement problems = wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#problems li")));
        assertEquals("line " + BAD_LINE + ": output has 5001 characters; at most 5000", problems.getText());
        assertFalse(browser.findElement(By.id("create")).isEnabled(), "nothing can be sent while a row is bad");
        assertAllControlsLabelled();

        WebElement badOutput = browser.findElement(By.cssSelector("textarea[aria-label='output, line " + BAD_LINE + "']"));
        badOutput.clear();
        badOutput.sendKeys("LXIV");
        wait.until(ExpectedConditions.invisibilityOfElementLocated(By.cssSelector("#problems li")));
        type(By.name("displayName"), "number generator model");
        type(By.name("epochCount"), "5");
        type(By.name("batchSize"), "2");
        int n = examples.size() + 1;
        int steps = (n * 5 + 1) / 2;
        assertTrue(browser.findElement(By.id("steps")).getText().endsWith("= " + steps + " steps"),
                browser.findElement(By.id("steps")).getText());
        browser.findElement(By.id("create")).click();

        // watch: the chart gains points while the job runs, and the state reaches ACTIVE
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#loss-chart canvas")));
        TreeSet<Integer> pointCounts = new TreeSet<>();
        WebDriverWait training = new WebDriverWait(browser, Duration.ofMinutes(3), Duration.ofMillis(100));
        training.until(d -> {
            String points = d.findElement(By.id("loss-chart")).getAttribute("data-points");
            if (points != null) {
                pointCounts.add(Integer.parseInt(points));
            }
            return d.findElement(By.id("state")).getText().equals("ACTIVE");
        });
        // the page may show the state before its last poll of the losses has redrawn the chart
        training.until(d -> String.valueOf(steps).equals(d.findElement(By.id("loss-chart")).getAttribute("data-points")));
        assertTrue(pointCounts.stream().allMatch(c -> c <= steps) && pointCounts.stream().anyMatch(c -> c > 0 && c < steps),
                "the chart grew while the job ran: point counts seen " + pointCounts + " of " + steps);
        assertTrue(browser.findElement(By.id("progress-text")).getText().startsWith("100% — step " + steps + " of " + steps));
        assertTrue(browser.findElement(By.id("epoch-means")).getText().contains("epoch 5: mean loss"));
        screenshot(browser.findElement(By.tagName("main")), "console-loss-chart.png");

        // try: a streamed answer with its token counts and the request as curl, the key elided
        browser.findElement(By.id("try-link")).click();
        wait.until(ExpectedConditions.elementToBeClickable(By.id("generate")));
        type(By.name("turn1"), "1");
        type(By.name("maxOutputTokens"), "8");
        browser.findElement(By.id("generate")).click();
        WebElement counts = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token-counts")));
        wait.until(d -> counts.getText().matches("prompt \\d+ tokens · answer [1-8] · total \\d+"));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.name("turn3")));
        String curl = browser.findElement(By.id("curl-snippet")).getText();
        assertTrue(curl.contains("x-goog-api-key: $API_KEY") && curl.contains(":streamGenerateContent"), curl);
        screenshot(browser.findElement(By.tagName("main")), "console-playground.png");

        // API keys: created and shown once, then revoked
        browser.get(base + "/console#/keys");
        present(By.id("create-key")).click();
        String key = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("key-string"))).getText();
        assertEquals(200, get("/v1beta/models", "x-goog-api-key", key).statusCode());
        browser.findElement(By.cssSelector("#keys button.danger")).click();
        browser.switchTo().alert().accept();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("keys"), "revoked"));
        assertEquals(400, get("/v1beta/models", "x-goog-api-key", key).statusCode(), "a revoked key is refused");

        // CSRF: the console's own page without the token, and another origin's form, are both refused
        Object status = ((JavascriptExecutor) browser).executeAsyncScript("const done = arguments[0];"
                + "fetch('/v1beta/apiKeys', {method: 'POST', headers: {'Content-Type': 'application/json'},"
                + " body: '{}'}).then(r => done(r.status));");
        assertEquals(403L, status);
        int keysBefore = store.listApiKeys("tutorial").size();
        HttpServer attacker = attackerPage();
        try {
            browser.get("http://127.0.0.1:" + attacker.getAddress().getPort() + "/");
            wait.until(ExpectedConditions.urlContains("/v1beta/apiKeys"));
            assertTrue(browser.getPageSource().contains("PERMISSION_DENIED"), browser.getPageSource());
        } finally {
            attacker.stop(0);
        }
        assertEquals(keysBefore, store.listApiKeys("tutorial").size(), "the forged request created no key");

        // 360 px wide: no page scrolls sideways
        browser.manage().window().setSize(new Dimension(360, 800));
        for (String page : List.of("#/models", "#/tune", "#/try", "#/keys")) {
            browser.get(base + "/console" + page);
            wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("main h1")));
            Object overflow = ((JavascriptExecutor) browser).executeScript(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
            assertEquals(0L, overflow, page + " scrolls sideways at 360 px");
        }

        // the model's page: renamed, then deleted after a confirmation
        browser.manage().window().setSize(new Dimension(1280, 1000));
        browser.get(base + "/console#/models");
        present(By.cssSelector("#models a")).click();
        present(By.name("displayName"));
        type(By.name("displayName"), "renamed in the console");
        browser.findElement(By.cssSelector("form button[type=submit]")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("main p[role=alert]"), "Saved."));
        assertEquals("renamed in the console", Callers.http(server, "tutorial").get("/v1beta/tunedModels").json()
                .at("/tunedModels/0/displayName").asText(), "the rename reached the server");
        browser.findElement(By.cssSelector("button.danger")).click();
        browser.switchTo().alert().accept();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("models"), "No tuned models"));

        // a long job cancelled from Watch ends FAILED, its error shown
        JsonNode longJob = Callers.http(server, "tutorial").post("/v1beta/tunedModels?tunedModelId=long-job",
                SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":500,")).json();
        assertEquals("tunedModels/long-job", longJob.at("/metadata/tunedModel").asText(), longJob.toString());
        browser.get(base + "/console#/watch/long-job");
        present(By.id("cancel")).click();
        browser.switchTo().alert().accept();
        wait.until(ExpectedConditions.textToBe(By.id("state"), "FAILED"));
        assertTrue(browser.findElement(By.id("error")).getText().startsWith("Tuning failed: "),
                browser.findElement(By.id("error")).getText());

        // sign-out ends the session on the server: the old cookie is refused by the API
        Cookie session = browser.manage().getCookieNamed("tuneforge_console");
        assertTrue(session.isHttpOnly());
        assertEquals("Strict", session.getSameSite());
        browser.findElement(By.id("sign-out")).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("sign-in")));
        HttpResponse<String> after = get("/v1beta/tunedModels", "Cookie", session.getName() + "=" + session.getValue());
        assertEquals(401, after.statusCode(), after.body());
    }

    /** A page on another origin that posts a form to the API with the victim's cookie. */
    private HttpServer attackerPage() throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        byte[] page = ("<!doctype html><form method=post enctype=text/plain action='" + base + "/v1beta/apiKeys'>"
                + "<input name='{\"displayName\":\"forged\",\"x\":\"' value='\"}'></form>"
                + "<script>document.forms[0].submit()</script>").getBytes(StandardCharsets.UTF_8);
        s.createContext("/", ex -> {
            ex.getResponseHeaders().add("Content-Type", "text/html");
            ex.sendResponseHeaders(200, page.length);
            ex.getResponseBody().write(page);
            ex.close();
        });
        s.start();
        return s;
    }

    private void assertAllControlsLabelled() {
        Object unlabelled = ((JavascriptExecutor) browser).executeScript("return [...document.querySelectorAll("
                + "'input, select, textarea')].filter(e => !e.labels.length && !e.getAttribute('aria-label')).length;");
        assertEquals(0L, unlabelled, "every control has a label");
    }

    private HttpResponse<String> get(String path, String header, String value) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).header(header, value).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private WebElement present(By by) {
        return wait.until(ExpectedConditions.presenceOfElementLocated(by));
    }

    private void type(By by, String text) {
        WebElement e = browser.findElement(by);
        e.clear();
        e.sendKeys(text);
    }

    private void screenshot(WebElement element, String name) throws Exception {
        File shot = element.getScreenshotAs(OutputType.FILE);
        Path target = Path.of("target", name);
        Files.createDirectories(target.getParent());
        Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
    }

    private static List<String[]> tutorialExamples() throws Exception {
        JsonNode body = GoogleJson.MAPPER.readTree(SeedWalkthroughTest.SEED_BODY);
        List<String[]> out = new ArrayList<>();
        for (JsonNode e : body.at("/tuning_task/training_data/examples/examples")) {
            out.add(new String[]{e.get("text_input").asText(), e.get("output").asText()});
        }
        return out;
    }

    private static String quoted(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }
}
