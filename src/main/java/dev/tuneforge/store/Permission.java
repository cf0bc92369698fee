package dev.tuneforge.store;

/**
 * One grant of a tuned model (the Gemini API's Permission): to a user, a group or everyone, with a role. {@code
 * emailAddress} is lowercase, and empty for EVERYONE.
 */
public record Permission(String id, GranteeType granteeType, String emailAddress, Role role, String createTime) {
    /** The id of the permission a model's creating project holds (OWNER until ownership is transferred). */
    public static final String CREATOR_ID = "creator";
    /** The domain of a project's group address: {@code PROJECT@projects.tuneforge} stands for every caller of it. */
    public static final String PROJECT_DOMAIN = "projects.tuneforge";

    /** The OWNER permission a new model's creating project holds. */
    public static Permission creator(String project, String createTime) {
        return new Permission(CREATOR_ID, GranteeType.GROUP, projectAddress(project), Role.OWNER, createTime);
    }

    /** The group address of a project's callers. */
    public static String projectAddress(String project) {
        return project.toLowerCase(java.util.Locale.ROOT) + "@" + PROJECT_DOMAIN;
    }

    public enum GranteeType { USER, GROUP, EVERYONE }

    /** Concentric roles: each may do everything the ones before it may. */
    public enum Role {
        READER, WRITER, OWNER;

        public boolean allows(Role needed) {
            return compareTo(needed) >= 0;
        }
    }
}
