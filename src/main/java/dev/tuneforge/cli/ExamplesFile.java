package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.tuneforge.engine.train.TrainingExample;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads input/output pairs from JSONL (one object a line), CSV (a header row) or JSON (an array, or an object
 * with "examples"). Field names: text_input / textInput / input, and output.
 */
final class ExamplesFile {
    private ExamplesFile() {
    }

    static List<TrainingExample> read(Path file) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        List<Map<String, Object>> rows = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        if (name.endsWith(".csv")) {
            CsvMapper csv = new CsvMapper();
            try (MappingIterator<Map<String, Object>> it = csv.readerFor(Map.class)
                    .with(CsvSchema.emptySchema().withHeader()).readValues(file.toFile())) {
                rows.addAll(it.readAll());
            }
        } else if (name.endsWith(".jsonl")) {
            int lineNo = 0;
            for (String line : Files.readAllLines(file)) {
                lineNo++;
                if (!line.isBlank()) {
                    try {
                        rows.add(json.readValue(line, Map.class));
                    } catch (IOException e) {
                        throw new IllegalArgumentException(file + " line " + lineNo + ": not a JSON object");
                    }
                }
            }
        } else {
            JsonNode root = json.readTree(file.toFile());
            JsonNode list = root.isArray() ? root : root.path("examples");
            if (!list.isArray()) {
                throw new IllegalArgumentException(file + ": expected a JSON array of examples or {\"examples\": [...]}");
            }
            for (JsonNode n : list) {
                rows.add(json.convertValue(n, Map.class));
            }
        }
        List<TrainingExample> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Map<String, Object> r = rows.get(i);
            Object input = r.getOrDefault("text_input", r.getOrDefault("textInput", r.get("input")));
            Object output = r.get("output");
            if (input == null || output == null) {
                throw new IllegalArgumentException(file + ": example " + i + " needs text_input (or input) and output");
            }
            out.add(new TrainingExample(input.toString(), output.toString()));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + " has no examples");
        }
        return out;
    }
}
