"""Ported from SGLang's benchmark/generative_agents/agent_functions.py (its five programs; the
few-shot blocks shortened); only `import lmc as sgl` changed."""

import lmc as sgl


@sgl.function
def poignancy_event(s, persona_name, persona_iss, event):
    s += "Here is a brief description of " + persona_name + ".\n"
    s += persona_iss + "\n"
    s += "On the scale of 1 to 10, where 1 is purely mundane and 10 is extremely poignant, rate the likely poignancy of the following event for"
    s += persona_name + ".\n\n"
    s += "Event: " + event
    s += "Rate (return a number between 1 to 10):"
    s += sgl.gen(name="Rate", max_tokens=2)


@sgl.function
def generate_event_triple(s, persona_name, action):
    s += """Task: Turn the input into (subject, predicate, object).
Input: Joon Park is brewing coffee.
Output: (Joon Park, brew, coffee)
---"""
    s += persona_name + "is" + action + ".\n"
    s += "(" + persona_name + ","
    s += sgl.gen(name="Triple", max_tokens=20, stop=")")


@sgl.function
def generate_pronunciatio(s, action):
    s += "Convert an action description to an emoji (important: use two or less emojis).\n"
    s += "Action description: " + action + ".\n"
    s += "Emoji:" + sgl.gen(name="Emoji", max_tokens=6)


@sgl.function
def action_location_sector(
    s,
    persona_name,
    living_sector,
    living_sector_areas,
    current_sector,
    current_sector_areas,
    daily_plan,
    sector_options,
    current_action,
    next_action,
):
    s += """Task -- choose an appropriate area  from the area options for a task at hand.
For taking a walk, Sam Kim should go to the following area: {Johnson Park}
---"""
    s += (persona_name + " lives in " + living_sector + " that has " +
          living_sector_areas + ".\n")
    s += (persona_name + " is currently in " + current_sector + " that has " +
          current_sector_areas + ".\n")
    s += daily_plan + ".\n"
    s += "Area options: " + sector_options + ".\n"
    s += """* Stay in the current area if the activity can be done there.
* Must be one of the "Area options," verbatim.\n"""
    s += (persona_name + " is " + current_action + ". For " + next_action +
          ", " + persona_name + " should go to the following area: {")
    s += sgl.gen(name="Location", max_tokens=10, stop="}")


@sgl.function
def action_location_object(s, persona_name, target_sector, target_sector_areas,
                           current_action, next_action):
    s += """
For getting coffee, Tom Watson should go to the following area in Hobbs Cafe:
Answer: {cafe}
---"""
    s += (persona_name + " is going to " + target_sector +
          " that has the following areas: {" + target_sector_areas + "}\n")
    s += """* Stay in the current area if the activity can be done there.
* NEVER go into other people's rooms unless necessary."""
    s += (persona_name + " is " + current_action + ". For " + next_action +
          ", " + persona_name + "should go to the following area in " +
          target_sector)
    s += " (MUST pick one of {" + target_sector_areas + "}):\n"
    s += "Answer: {" + sgl.gen(name="Area", max_tokens=5, stop="}")
