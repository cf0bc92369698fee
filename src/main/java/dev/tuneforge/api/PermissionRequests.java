package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.Identities;
import dev.tuneforge.store.Permission;
import dev.tuneforge.store.Permission.GranteeType;
import dev.tuneforge.store.Permission.Role;
import dev.tuneforge.tuning.FieldNames;
import dev.tuneforge.tuning.InvalidRequestException;

import java.util.Arrays;
import java.util.Locale;
import java.util.regex.Pattern;

/** The bodies of tunedModels.permissions create and patch and of transferOwnership, validated; errors name the field. */
final class PermissionRequests {
    /** An address as RFC 5321 bounds it: one {@code @}, no spaces, at most 320 characters. */
    private static final Pattern ADDRESS = Pattern.compile("[^@\\s]{1,64}@[^@\\s]{1,255}");

    /** Who a new permission grants to and with what role. */
    record Grant(GranteeType granteeType, String emailAddress, Role role) {
    }

    private PermissionRequests() {
    }

    /** A permissions.create body: {@code role}, {@code granteeType} (USER when absent and an address is sent), {@code emailAddress}. */
    static Grant create(JsonNode body) {
        requireObject(body, "a Permission");
        Role role = role(body);
        GranteeType type = granteeType(body);
        String email = optionalText(body, "emailAddress", "email_address");
        if (type == null) {
            if (email == null) {
                throw new InvalidRequestException("grantee_type is required (USER, GROUP or EVERYONE)");
            }
            type = GranteeType.USER;
        }
        if (type == GranteeType.EVERYONE) {
            if (email != null) {
                throw new InvalidRequestException("email_address must not be set when grantee_type is EVERYONE");
            }
            return new Grant(type, "", role);
        }
        if (email == null) {
            throw new InvalidRequestException("email_address is required when grantee_type is " + type);
        }
        return new Grant(type, address(email, type, "email_address"), role);
    }

    /**
     * The role a permissions.patch sets: {@code updateMask} may name only {@code role} (granteeType and emailAddress
     * are immutable); without a mask the fields sent are updated (AIP-134), which must then be just the role.
     */
    static Role patch(JsonNode body, String updateMask, Permission current) {
        requireObject(body, "a Permission");
        if (updateMask != null && !updateMask.isBlank()) {
            for (String raw : updateMask.split(",")) {
                String field = FieldNames.camelCase(raw.trim());
                switch (field) {
                    case "role" -> { }
                    case "granteeType", "emailAddress", "name" -> throw new InvalidRequestException("update_mask field '"
                            + raw.trim() + "' is immutable; only role can be updated");
                    default -> throw new InvalidRequestException("update_mask field '" + raw.trim()
                            + "' cannot be updated (role)");
                }
            }
        } else {
            GranteeType type = granteeType(body);
            if (type != null && type != current.granteeType()) {
                throw new InvalidRequestException("grantee_type is immutable; only role can be updated");
            }
            String email = optionalText(body, "emailAddress", "email_address");
            if (email != null && !Identities.normalized(email).equals(current.emailAddress())) {
                throw new InvalidRequestException("email_address is immutable; only role can be updated");
            }
        }
        Role role = role(body);
        if (role == Role.OWNER) {
            throw new InvalidRequestException("role OWNER is given only by tunedModels.transferOwnership");
        }
        return role;
    }

    /** The new owner a transferOwnership body names: a user's address, or a project's group address. */
    static Permission transfer(JsonNode body, String permissionId, String time) {
        requireObject(body, "{\"emailAddress\": ...}");
        String email = optionalText(body, "emailAddress", "email_address");
        if (email == null) {
            throw new InvalidRequestException("email_address is required: the user (or PROJECT@"
                    + Permission.PROJECT_DOMAIN + ") to transfer the model to");
        }
        String normalized = Identities.normalized(email);
        GranteeType type = Identities.isProjectAddress(normalized) ? GranteeType.GROUP : GranteeType.USER;
        return new Permission(permissionId, type, address(email, type, "email_address"), Role.OWNER, time);
    }

    private static Role role(JsonNode body) {
        JsonNode n = body.get("role");
        if (n == null || n.isNull()) {
            throw new InvalidRequestException("role is required (READER, WRITER or OWNER)");
        }
        return enumValue(n, "role", Role.class, Role.values());
    }

    private static GranteeType granteeType(JsonNode body) {
        JsonNode n = body.get("granteeType");
        return n == null || n.isNull() ? null : enumValue(n, "grantee_type", GranteeType.class, GranteeType.values());
    }

    private static <E extends Enum<E>> E enumValue(JsonNode n, String field, Class<E> type, E[] values) {
        String allowed = String.join(", ", Arrays.stream(values).map(Enum::name).toList());
        if (!n.isTextual()) {
            throw new InvalidRequestException(field + " must be one of " + allowed);
        }
        try {
            return Enum.valueOf(type, n.asText().trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(field + " '" + n.asText() + "' is not one of " + allowed);
        }
    }

    private static String address(String email, GranteeType type, String field) {
        String a = Identities.normalized(email);
        if (a.length() > 320 || !ADDRESS.matcher(a).matches()) {
            throw new InvalidRequestException(field + " '" + email + "' is not an email address");
        }
        if (type == GranteeType.USER && Identities.isProjectAddress(a)) {
            throw new InvalidRequestException(field + " '" + email + "' is a project, which is a GROUP grantee");
        }
        if (type == GranteeType.GROUP && a.endsWith("@" + Identities.CLIENT_DOMAIN)) {
            throw new InvalidRequestException(field + " '" + email + "' is an OAuth client, which is a USER grantee");
        }
        return a;
    }

    private static String optionalText(JsonNode body, String camel, String snake) {
        JsonNode n = body.get(camel);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual() || n.asText().isBlank()) {
            throw new InvalidRequestException(snake + " must be a non-empty string");
        }
        return n.asText();
    }

    private static void requireObject(JsonNode body, String what) {
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException("the request body must be a JSON object (" + what + ")");
        }
    }
}
