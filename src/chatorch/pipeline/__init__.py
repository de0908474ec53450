"""The message path: RequestProcessor → ThinkEngine → ActionEngine → ResponseEngine.

``runner`` ties the stages together for one work item. Depends on domain, ports and
services only; never on a driver.
"""
