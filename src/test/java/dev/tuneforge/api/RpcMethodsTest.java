package dev.tuneforge.api;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RpcMethodsTest {
    @ParameterizedTest
    @CsvSource(nullValues = "-", value = {
            "GET, /v1beta/models, google.ai.generativelanguage.v1beta.ModelService.ListModels",
            "GET, /v1/models/stories-260k, google.ai.generativelanguage.v1.ModelService.GetModel",
            "POST, /v1beta/models/m:generateContent, google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent",
            "POST, /v1beta/tunedModels/t:streamGenerateContent, google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent",
            "POST, /v1beta/tunedModels, google.ai.generativelanguage.v1beta.ModelService.CreateTunedModel",
            "PATCH, /v1beta/tunedModels/t, google.ai.generativelanguage.v1beta.ModelService.UpdateTunedModel",
            "POST, /v1beta/tunedModels/t:transferOwnership, google.ai.generativelanguage.v1beta.PermissionService.TransferOwnership",
            "GET, /v1beta/tunedModels/t/permissions, google.ai.generativelanguage.v1beta.PermissionService.ListPermissions",
            "POST, /v1beta/tunedModels/t/permissions, google.ai.generativelanguage.v1beta.PermissionService.CreatePermission",
            "GET, /v1beta/tunedModels/t/permissions/p, google.ai.generativelanguage.v1beta.PermissionService.GetPermission",
            "DELETE, /v1beta/tunedModels/t/permissions/p, google.ai.generativelanguage.v1beta.PermissionService.DeletePermission",
            "GET, /v1beta/tunedModels/t/operations/o, -",
            "POST, /v1beta/apiKeys, -",
            "POST, /v1beta/models, -",
            "GET, /healthz, -",
            "POST, /v1beta/models/m:explode, -"})
    void namesGooglesRpc(String httpMethod, String path, String rpc) {
        assertEquals(rpc, RpcMethods.of(httpMethod, path));
    }
}
