"""Capitalised words that stand where names stand without being names.

Read by the cue rules of ``_context`` (a name after "patient" stops at them: "patient Portal")
and by the token classifier of ``_tokens`` (never a candidate): product features, committees,
function words of Title Case headings, months and days.
"""

from __future__ import annotations

# Capitalised words that follow "patient" or precede an identifier without being a name:
# product features (Patient Portal), committees, function words of Title Case headings.
NOT_NAMES = frozenset(
    """
    The A An And Or Of For To In On At By With From Is Was Are Be Has Had Have Not No Yes This
    That These Those It Its He She His Her They Their We Our You Your Can Cannot Will Would
    Should Could May Must Does Did Do Please Note Notes Also Only All Any Per Via See Re Fwd Hi
    Hello Thanks Dear Who What When Where Why How New Old Test Tests Testing Sample Synthetic
    Unknown Portal Safety Experience Intake Form Forms Access Education Engagement Relations
    Services Service Care Record Records Chart Charts Data Index Identity Identifier Matching
    Match Merge Registration Registry Financial Flow Transport Transfer Satisfaction Advocate
    Advocacy Outcomes Summary List Lists Search Lookup Demographics Information Info Name Names
    Census Room Monitoring Support Journey Communication Communications Navigator Navigation
    Population Panel Banner Header Details Profile Account Accounts Hub App Mobile Message
    Messages Messaging Queue Alert Alerts Status Dashboard Report Reports Type Types Model
    Resource Resources Billing Statement Consent Rights Story Stories Survey Feedback
    Council Committee Team Program Tracker View Viewer Cohort Entry Level Levels Id Zero Bed
    Unit Floor Ward Ready Centered Facing Self Preference Preferences Visit Visits Encounter
    Encounters Schedule Scheduling Appointment Appointments Reminder Reminders Contact Contacts
    Address Phone Email Home Health Medical Clinical Admission Discharge Instructions Handoff
    Classification Acuity Risk Score Flag Flags Label Labels Group Groups Class Object Bundle
    Endpoint Table Field Fields Module Screen Page Pages Settings Doctor Nurse Provider Staff
    Family Caregiver Patient Patients Member Members Plan Plans Policy Insurance Coverage
    January February March April June July August September October November December Monday
    Tuesday Wednesday Thursday Friday Saturday Sunday Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct
    Nov Dec Today Tomorrow Yesterday Hospital Clinic Center Emergency Department Lab Labs
    One Two Three Four Five Six Seven Eight Nine Ten Mrn Dob Ssn Npi Tbd Na Dr Doctor Prof Mr
    Mrs Ms Miss Mx Rev Sr Jr
    True False None Null Nan Ok Yes Todo Fixme
    """.lower().split()
)
