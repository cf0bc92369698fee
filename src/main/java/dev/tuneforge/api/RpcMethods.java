package dev.tuneforge.api;

/**
 * The RPC of the {@code google.ai.generativelanguage} API that an HTTP request calls, e.g.
 * {@code google.ai.generativelanguage.v1beta.ModelService.CreateTunedModel}: Google names it in the {@code method}
 * metadata of credential errors. Null for what is not one of Google's RPCs (API keys, health, OAuth).
 */
final class RpcMethods {
    private RpcMethods() {
    }

    static String of(String httpMethod, String path) {
        String[] segments = path.replaceAll("^/+|/+$", "").split("/");
        if (segments.length < 2 || !(segments[0].equals("v1beta") || segments[0].equals("v1"))) {
            return null;
        }
        String rpc = rpc(httpMethod, segments);
        return rpc == null ? null : "google.ai.generativelanguage." + segments[0] + "." + rpc;
    }

    private static String rpc(String httpMethod, String[] s) {
        String collection = s[1];
        String last = s[s.length - 1];
        String custom = last.contains(":") ? last.substring(last.lastIndexOf(':') + 1) : null;
        boolean model = collection.equals("models");
        boolean tuned = collection.equals("tunedModels");
        if (!model && !tuned) {
            return null;
        }
        if (s.length == 2) {
            return switch (httpMethod) {
                case "GET" -> model ? "ModelService.ListModels" : "ModelService.ListTunedModels";
                case "POST" -> tuned ? "ModelService.CreateTunedModel" : null;
                default -> null;
            };
        }
        if (s.length == 3 && custom != null) {
            return switch (custom) {
                case "generateContent" -> "GenerativeService.GenerateContent";
                case "streamGenerateContent" -> "GenerativeService.StreamGenerateContent";
                case "countTokens" -> "GenerativeService.CountTokens";
                case "transferOwnership" -> tuned ? "PermissionService.TransferOwnership" : null;
                default -> null;
            };
        }
        if (s.length == 3) {
            return switch (httpMethod) {
                case "GET" -> model ? "ModelService.GetModel" : "ModelService.GetTunedModel";
                case "PATCH" -> tuned ? "ModelService.UpdateTunedModel" : null;
                case "DELETE" -> tuned ? "ModelService.DeleteTunedModel" : null;
                default -> null;
            };
        }
        if (!tuned) {
            return null;
        }
        if (s[3].equals("operations")) {
            // long-running operations are served by google.longrunning.Operations, not by a generativelanguage RPC
            return null;
        }
        if (s[3].equals("permissions")) {
            return switch (httpMethod) {
                case "GET" -> s.length == 4 ? "PermissionService.ListPermissions" : "PermissionService.GetPermission";
                case "POST" -> s.length == 4 ? "PermissionService.CreatePermission" : null;
                case "PATCH" -> "PermissionService.UpdatePermission";
                case "DELETE" -> "PermissionService.DeletePermission";
                default -> null;
            };
        }
        return null;
    }
}
