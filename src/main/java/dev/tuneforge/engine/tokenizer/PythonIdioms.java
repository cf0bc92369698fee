package dev.tuneforge.engine.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Python idioms of Hugging Face chat templates that Jinja2 accepts and Jinjava does not (Qwen3's template uses
 * all of them): string methods ({@code s.startswith(p)}, {@code s.split(sep)}, {@code s.strip(chars)}, ...), which
 * become filters of the same meaning; reversed slices {@code xs[::-1]}, which become {@code xs|reverse}; and
 * {@code namespace(k=expr, ...)}, whose values are parenthesised (Jinjava reads {@code k=a - 1} as
 * {@code (k=a) - 1}). And the whitespace control of expression tags, {@code {{-} and {@code -}}}, which Jinjava
 * does not apply after an indented line: the whitespace is removed from the template text instead.
 */
final class PythonIdioms {
    private static final Pattern STRING_METHOD =
            Pattern.compile("\\.(startswith|endswith|split|lstrip|rstrip|strip)\\(");
    private static final Pattern SPLIT_INDEX = Pattern.compile("\\|py_split\\(([^()]*)\\)\\[(-?\\d+)\\]");
    private static final Pattern REVERSED = Pattern.compile("(\\w+(?:\\.\\w+)*)\\[::-1\\]");
    private static final Pattern NAMESPACE = Pattern.compile("namespace\\(([^()]*)\\)");

    private PythonIdioms() {
    }

    static String rewrite(String template) {
        String t = template.replaceAll("\\s*\\{\\{-", "{{").replaceAll("-}}\\s*", "}}");
        t = STRING_METHOD.matcher(t).replaceAll("|py_$1(");
        // Jinjava takes no subscript after a filter: s.split(sep)[i] becomes one filter
        t = SPLIT_INDEX.matcher(t).replaceAll("|py_split_at($1, $2)");
        t = REVERSED.matcher(t).replaceAll("($1|reverse)");
        Matcher m = NAMESPACE.matcher(t);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            List<String> args = new ArrayList<>();
            for (String arg : m.group(1).split(",")) {
                int eq = arg.indexOf('=');
                args.add(eq < 0 ? arg : arg.substring(0, eq + 1) + "(" + arg.substring(eq + 1).trim() + ")");
            }
            m.appendReplacement(out, Matcher.quoteReplacement("namespace(" + String.join(",", args) + ")"));
        }
        m.appendTail(out);
        return out.toString();
    }

    static void register(Jinjava jinjava) {
        var filters = jinjava.getGlobalContext();
        filters.registerFilter(filter("py_startswith", (s, a) -> s.startsWith(a[0])));
        filters.registerFilter(filter("py_endswith", (s, a) -> s.endsWith(a[0])));
        filters.registerFilter(filter("py_split", (s, a) -> a.length == 0 || a[0] == null
                ? Arrays.asList(s.strip().split("\\s+")) : Arrays.asList(s.split(Pattern.quote(a[0]), -1))));
        filters.registerFilter(filter("py_split_at", (s, a) -> {
            String[] parts = s.split(Pattern.quote(a[0]), -1);
            int i = Integer.parseInt(a[1].trim());
            return parts[i < 0 ? parts.length + i : i];
        }));
        filters.registerFilter(filter("py_lstrip", (s, a) -> strip(s, chars(a), true, false)));
        filters.registerFilter(filter("py_rstrip", (s, a) -> strip(s, chars(a), false, true)));
        filters.registerFilter(filter("py_strip", (s, a) -> strip(s, chars(a), true, true)));
    }

    private interface StringFunction {
        Object apply(String s, String[] args);
    }

    private static Filter filter(String name, StringFunction f) {
        return new Filter() {
            @Override
            public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
                return var == null ? null : f.apply(var.toString(), args);
            }

            @Override
            public String getName() {
                return name;
            }
        };
    }

    /** Python's default strips whitespace. */
    private static String chars(String[] args) {
        return args.length == 0 || args[0] == null ? " \t\n\r\u000b\f" : args[0];
    }

    private static String strip(String s, String chars, boolean left, boolean right) {
        int from = 0;
        int to = s.length();
        while (left && from < to && chars.indexOf(s.charAt(from)) >= 0) {
            from++;
        }
        while (right && to > from && chars.indexOf(s.charAt(to - 1)) >= 0) {
            to--;
        }
        return s.substring(from, to);
    }
}
